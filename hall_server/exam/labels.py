"""The words people read for every code: one table for the console (sent to the page as
JSON), the printed forms and the centre (sync/central/outcomes.py).

Violations and their consequences as the seeds say them (000_…txt 附件4): 第三条 一般违纪,
warning; 第四条 考试作弊, 本次业务水平测评成绩不合格，参加补考; 第五条 严重违纪, 本周期
业务水平测评成绩不合格，取消补考机会; 第七条1: for both the invigilator stops the exam and
the candidate hands in at once. Incidents as 附件5 names them.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

# An attempt's status ("not_arrived": no attempt row yet).
ATTEMPT_STATUS = {
    "not_arrived": "未到",
    "absent": "缺考",
    "logged_in": "已登录",
    "confirmed": "已核对",
    "answering": "答题中",
    "submitted": "已交卷",
    "terminated": "终止考试",
    "rescheduled": "待重考",
}

SITTING_STATUS = {"planned": "未开考", "started": "考试中", "paused": "暂停中", "ended": "已结束"}

# How an attempt was sealed (attempts.submit_reason).
SUBMIT_REASONS = {
    "candidate": "考生交卷",
    "time_up": "时间到自动交卷",
    "staff": "监考收卷",
    "terminated": "违纪终止考试",
    "paper": "答题卡",
    "rescheduled": "另择期再考",
}

# late_reason of a candidate moved in before opening: admitted to the new room (not a latecomer)
MOVED_IN = "调换考场："
# A candidate's exceptions (exam/exception_ops.py): what the room record calls them.
EXCEPTIONS = {"stop": "停考/代为交卷", "move": "调换考场", "reschedule": "待重考（另择期再考）"}
# Why an invigilator stops one candidate's exam (附件2 四(八) a sick candidate persuaded to
# stop; 附件3 四(五) leaving with the invigilator's consent): never a violation.
STOP_REASONS = {"sick": "身体不适，劝其停考", "leave": "经监考同意提前离场", "other": "其他原因"}
# Why a candidate or a whole sitting is rescheduled (附件5 三1,4 另择期再考; 附件3 四(八)).
RESCHEDULE_REASONS = {"fault": "故障无法恢复，无法考试", "force_majeure": "不可抗力", "sick": "考生突发疾病",
                      "other": "其他原因"}

# 应到 / 实到 / 缺考 / 待入场 (hall_server/exam/counts.py)
ATTENDANCE = {"expected": "应到", "present": "实到", "absent": "缺考", "pending": "待入场"}


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
VIOLATION_NAMES = {k: v.name for k, v in VIOLATIONS.items()}

# 附件5 names these; each feeds the room record's 其他.
INCIDENT_KINDS = {"power": "停电", "network": "网络故障", "system": "系统故障", "sick": "考生身体不适",
                  "cheating_group": "群体作弊", "other": "其他"}


def for_page() -> dict:
    """Everything above, as the console page receives it (one JSON blob)."""
    return {"status": ATTEMPT_STATUS, "sitting": SITTING_STATUS, "submit": SUBMIT_REASONS,
            "attendance": ATTENDANCE,
            "violations": {k: asdict(v) | {"consequence": v.consequence} for k, v in VIOLATIONS.items()},
            "incidents": INCIDENT_KINDS, "exceptions": EXCEPTIONS, "stop_reasons": STOP_REASONS,
            "reschedule_reasons": RESCHEDULE_REASONS, "moved_in": MOVED_IN}
