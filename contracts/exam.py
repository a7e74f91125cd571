"""The exam's vocabulary: every code the three parts exchange, with its one Chinese label,
and the exam's numbers when a plan does not state them (DOMAIN.md; seeds 000_…附件3/4).

The console, the printed forms and the centre show these labels; nothing else spells them.
"""
from __future__ import annotations

CATEGORIES = ("临床", "中医", "口腔", "公共卫生")          # 执业类别, in the official order
LEVELS = ("执业医师", "执业助理医师")                       # 医师级别

# What a plan states unless it says otherwise (provisioning's bundles, hall's [rules]).
EXAM_DEFAULTS = {
    "title": "医师定期考核业务水平测评",
    "duration_minutes": 60,
    "late_entry_minutes": 10,
    "earliest_submit_minutes": 15,
    "question_count": 100,
    "points_per_question": 1,
    "timezone": "Asia/Shanghai",     # the exam's clock: every site shows times in it
}

# 违纪: a level a site records (附件4 第三–五条); the last two end the candidate's exam.
VIOLATION_LEVELS = {"minor": "一般违纪", "cheating": "考试作弊", "serious": "严重违纪"}
TERMINATING_LEVELS = ("cheating", "serious")

# 考场情况记录表「其他」: what a room records besides violations.
INCIDENT_KINDS = {"power": "停电", "network": "网络故障", "system": "系统故障", "sick": "考生身体不适",
                  "cheating_group": "群体作弊", "other": "其他"}

# A candidate's status (attempts.status; not_arrived: no attempt yet), as the forms word it.
STATUS_LABELS = {"not_arrived": "未到", "absent": "缺考", "logged_in": "已签到", "confirmed": "已确认",
                 "answering": "答题中", "submitted": "已交卷", "terminated": "终止考试"}

# A sitting's status (sittings.status).
SITTING_LABELS = {"planned": "未开考", "started": "考试中", "paused": "暂停中", "ended": "已结束"}

# Why an attempt was sealed (attempts.submit_reason).
SUBMIT_REASONS = {"candidate": "考生交卷", "time_up": "时间到自动交卷", "staff": "监考结束考试收卷",
                  "terminated": "违纪终止考试", "paper": "答题卡"}
