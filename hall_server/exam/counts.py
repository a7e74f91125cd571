"""应到 / 实到 / 缺考: the one definition the console, the room record (考场情况记录表) and the
result bundle all use.

From the seeds (`000_…txt`): the room record has 应到人数, 实到人数 and 缺考记录; a candidate
signs the sign-in sheet, scans the room QR, **opens the paper (开启试卷) and so enters the
exam**, and "开考10分钟后禁止迟到考生进入考场参加考试". So:

- 应到 (expected): every candidate on the sitting's roster.
- 实到 (present): the candidates who took the exam: opened the paper (timing started), or
  answered on paper (答题卡, attempt mode other than 'phone'). Logging in or confirming
  alone is not taking the exam.
- 缺考 (absent): not present once they can no longer enter: the sitting has ended, or its
  late-entry limit has passed and they were not admitted late (an admitted latecomer stays
  undecided until they open the paper or the sitting ends).
- 未定 (pending): neither yet (before the limit: on their way, or logged in and waiting).
- 待重考 (rescheduled, 附件5 三1,4 另择期再考): the staff rescheduled the candidate's exam;
  neither present nor absent, whatever they did before (exam/exception_ops.py).
  应到 = 实到 + 缺考 + 未定 + 待重考; after the sitting ends 未定 is 0.

The attempt status 'absent' is the writer's operational mark (login refused without
admission); it is not this count.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

from .rules import SittingTimes, too_late

PRESENT, ABSENT, PENDING, RESCHEDULED = "present", "absent", "pending", "rescheduled"


def is_present(opened_at: float | None, mode: str | None) -> bool:
    return opened_at is not None or (mode or "phone") != "phone"


def classify(opened_at: float | None, mode: str | None, admitted_late: bool, sitting: SittingTimes,
             now: float, status: str | None = None) -> str:
    """present | absent | pending | rescheduled for one candidate (no attempt: opened_at None,
    mode None, status None)."""
    if status == RESCHEDULED:
        return RESCHEDULED
    if is_present(opened_at, mode):
        return PRESENT
    if sitting.status == "ended" or too_late(sitting, now, admitted_late):
        return ABSENT
    return PENDING


@dataclass(frozen=True)
class Attendance:
    expected: int
    present: int
    absent: int
    pending: int
    absentees: tuple[str, ...]          # tickets, in the order given
    rescheduled: int = 0
    retakes: tuple[str, ...] = ()       # tickets of the rescheduled (待重考)


def attendance(candidates: Iterable[Mapping], sitting: SittingTimes, now: float) -> Attendance:
    """``candidates``: mappings with ``ticket`` and the attempt's ``opened_at``, ``mode``,
    ``late_reason`` and ``status`` (None, or missing, for a candidate without an attempt)."""
    n = {PRESENT: 0, ABSENT: 0, PENDING: 0, RESCHEDULED: 0}
    absentees, retakes = [], []
    for c in candidates:
        k = classify(c.get("opened_at"), c.get("mode"), bool(c.get("late_reason")), sitting, now, c.get("status"))
        n[k] += 1
        if k == ABSENT:
            absentees.append(c["ticket"])
        elif k == RESCHEDULED:
            retakes.append(c["ticket"])
    return Attendance(sum(n.values()), n[PRESENT], n[ABSENT], n[PENDING], tuple(absentees), n[RESCHEDULED],
                      tuple(retakes))


def sitting_attendance(sitting: Mapping, candidates: Iterable[Mapping], now: float) -> Attendance:
    """For a database reader: a sittings row and its candidates joined with their attempts."""
    return attendance(candidates, SittingTimes.of(sitting), now)
