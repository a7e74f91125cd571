"""The exam's vocabulary: every code the three parts exchange, with its one Chinese label,
and the exam's numbers when a plan does not state them (DOMAIN.md; seeds 000_…附件3/4).

The console, the printed forms and the centre show these labels; nothing else spells them.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

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

# 违纪 and their consequences as the seeds say them (000_…txt 附件4): 第三条 一般违纪, warning;
# 第四条 考试作弊, 本次业务水平测评成绩不合格，参加补考; 第五条 严重违纪, 本周期业务水平测评成绩
# 不合格，取消补考机会; 第七条1: for both the invigilator stops the exam and it is handed in at once.
@dataclass(frozen=True)
class Violation:
    name: str
    action: str            # what happens in the room
    result: str            # what follows for the result, as the seeds say ("" for a warning)
    terminates: bool       # the exam stops and the attempt is sealed at once (第七条1)
    clause: str

    @property
    def consequence(self) -> str:
        return "；".join(x for x in (self.action, self.result) if x)


VIOLATIONS = {
    "minor": Violation("一般违纪", "予以警告，继续考试", "", False, "附件4 第三条"),
    "cheating": Violation("考试作弊", "终止考试并交卷", "本次测评成绩不合格，可参加补考", True, "附件4 第四条"),
    "serious": Violation("严重违纪", "终止考试并交卷", "本周期测评成绩不合格，取消补考机会", True, "附件4 第五条"),
}
VIOLATION_LEVELS = {k: v.name for k, v in VIOLATIONS.items()}
TERMINATING_LEVELS = tuple(k for k, v in VIOLATIONS.items() if v.terminates)

# 考场情况记录表「其他」: what a room records besides violations (附件5 names these).
INCIDENT_KINDS = {"power": "停电", "network": "网络故障", "system": "系统故障", "sick": "考生身体不适",
                  "cheating_group": "群体作弊", "other": "其他"}

# A candidate's status (attempts.status; not_arrived: no attempt yet), as the forms word it.
STATUS_LABELS = {"not_arrived": "未到", "absent": "缺考", "logged_in": "已签到", "confirmed": "已确认",
                 "answering": "答题中", "submitted": "已交卷", "terminated": "终止考试", "rescheduled": "待重考"}

# A sitting's status (sittings.status).
SITTING_LABELS = {"planned": "未开考", "started": "考试中", "paused": "暂停中", "ended": "已结束"}

# Why an attempt was sealed (attempts.submit_reason).
SUBMIT_REASONS = {"candidate": "考生交卷", "time_up": "时间到自动交卷", "staff": "监考收卷",
                  "terminated": "违纪终止考试", "paper": "答题卡", "rescheduled": "另择期再考"}

# 应到 / 实到 / 缺考 / 待入场 (hall_server/exam/counts.py)
ATTENDANCE = {"expected": "应到", "present": "实到", "absent": "缺考", "pending": "待入场"}

# A candidate's exceptions (hall_server/exam/exception_ops.py): what the room record calls them.
EXCEPTIONS = {"stop": "停考/代为交卷", "move": "调换考场", "reschedule": "待重考（另择期再考）"}
# late_reason of a candidate moved in before opening: admitted to the new room (not a latecomer)
MOVED_IN = "调换考场："
# Why an invigilator stops one candidate's exam (附件2 四(八) a sick candidate persuaded to
# stop; 附件3 四(五) leaving with the invigilator's consent): never a violation.
STOP_REASONS = {"sick": "身体不适，劝其停考", "leave": "经监考同意提前离场", "other": "其他原因"}
# Why a candidate or a whole sitting is rescheduled (附件5 三1,4 另择期再考; 附件3 四(八)).
RESCHEDULE_REASONS = {"fault": "故障无法恢复，无法考试", "force_majeure": "不可抗力", "sick": "考生突发疾病",
                      "other": "其他原因"}


def for_page() -> dict:
    """Every label above as the console page receives it (one JSON blob)."""
    return {"status": STATUS_LABELS, "sitting": SITTING_LABELS, "submit": SUBMIT_REASONS,
            "levels": VIOLATION_LEVELS, "attendance": ATTENDANCE,
            "violations": {k: asdict(v) | {"consequence": v.consequence} for k, v in VIOLATIONS.items()},
            "incidents": INCIDENT_KINDS, "exceptions": EXCEPTIONS, "stop_reasons": STOP_REASONS,
            "reschedule_reasons": RESCHEDULE_REASONS, "moved_in": MOVED_IN}
