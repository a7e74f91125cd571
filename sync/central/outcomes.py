"""What a result means, in one place: the Chinese words of the forms for every code, the
seeds' consequences of each violation level, the verdict and who goes on the make-up list.

Seeds: 000_… 附件4 第三–五条 (一般违纪 warning; 考试作弊 fails this attempt, make-up
allowed; 严重违纪 fails the cycle, no make-up), 第六条 (判定 → 区县复核 → 市核准: a level is
final only when the city approves it), 003_… (首次考核不合格 and 缺考 go to the make-up
list), 004_… 2.2.9/2.2.10. A deferral (延期考核) is a status of its own, never 缺考.
"""
from __future__ import annotations

STATUS_ZH = {None: "缺考", "absent": "缺考", "logged_in": "已签到", "confirmed": "已确认",
             "answering": "答题中", "submitted": "已交卷", "terminated": "终止考试"}
SUBMIT_REASON_ZH = {None: "", "candidate": "考生交卷", "time_up": "时间到自动交卷", "staff": "监考结束考试收卷",
                    "terminated": "违纪终止考试", "paper": "答题卡"}
LEVEL_ZH = {None: "", "": "", "none": "不构成违纪", "minor": "一般违纪", "cheating": "考试作弊", "serious": "严重违纪"}
CASE_STATE_ZH = {"pending_review": "待区县复核", "pending_approval": "待市核准", "approved": "已核准"}
DEFERRAL_STATE_ZH = {"requested": "待市核准", "approved": "已批准", "refused": "未批准"}

# Consequence of a level once the city has approved it.
FAILS_ATTEMPT = {"cheating", "serious"}
NO_MAKEUP = {"serious"}
REVIEWED_LEVELS = ("serious", "cheating", "minor", "none")   # what a review may decide
OPENS_CASE = {"cheating", "serious"}                          # site levels that need 复核 and 核准

PASS, FAIL, ABSENT, UNDECIDED, PENDING, MISSING, DEFERRED = (
    "合格", "不合格", "缺考", "待定", "待核准", "未上报", "延期考核")
VERDICTS = (PASS, FAIL, ABSENT, UNDECIDED, PENDING, MISSING, DEFERRED)


def verdict(r: dict, marks: dict, case: str | None = None, deferred: bool = False, photo: str | None = None) -> str:
    """``case``: None (no case), 'pending' (not approved yet) or the approved level.
    ``photo``: the effect of the photo review's decision (photos.py RULES): None, 'fail'
    (不合格) or 'fail_cycle' (本周期不合格并公布)."""
    if deferred:
        return DEFERRED
    if not r.get("in_bundle"):
        return MISSING
    if r["status"] == "absent":
        return ABSENT
    if case == "pending":
        return PENDING
    if case in FAILS_ATTEMPT or photo in ("fail", "fail_cycle"):
        return FAIL
    if r["status"] == "terminated" and case is None:
        return FAIL              # stopped for a violation the centre never received: not passed
    if r["status"] not in ("submitted", "terminated"):
        return UNDECIDED
    mark = marks.get((r["category"], r["level"]))
    if mark is None or r.get("centre_score") is None:
        return UNDECIDED
    return PASS if r["centre_score"] >= mark else FAIL


def makeup_reason(v: str, case: str | None, photo: str | None = None) -> str | None:
    """Why a candidate goes on the make-up list (补考名单), or None."""
    if v == ABSENT:
        return "缺考"
    if v != FAIL or case in NO_MAKEUP or photo == "fail_cycle":
        return None
    if case == "cheating":
        return "考试作弊"
    return "抓拍照片评定不合格" if photo == "fail" else "成绩不合格"
