"""One candidate's exceptions, as the console asks for them (issue 17 items 1-3): checked
here (types, lengths, the reasons of contracts/exam.py), decided and committed by
exam/exception_ops.py, mirrored from what the transaction returned (ExamService.apply)."""
from __future__ import annotations

from contracts import exam as labels

from . import exception_ops
from .errors import ExamError

MAX_TEXT = 2000


def reason_text(kinds: dict[str, str], kind, text, what: str) -> str:
    """'身体不适，劝其停考：头晕，校医陪同' from a reason kind and the staff's words; 'other'
    needs the words."""
    if not isinstance(kind, str) or kind not in kinds:
        raise ExamError("bad_request", f"请选择{what}")
    if text is not None and (not isinstance(text, str) or len(text) > MAX_TEXT):
        raise ExamError("bad_request", f"{what}说明太长")
    text = (text or "").strip()
    if kind == "other" and not text:
        raise ExamError("bad_request", f"请填写{what}")
    return kinds[kind] + (f"：{text}" if text else "")


class CandidateExceptions:
    """Mixed into ExamService (its mirror, writer, clock and receipt key)."""

    def stop_attempt(self, ticket, kind, text, staff: str) -> None:
        self._candidate(ticket)
        reason = reason_text(labels.STOP_REASONS, kind, text, "停考原因")
        self._commit(exception_ops.stop_attempt, ticket, reason, self.clock(), staff, self.receipt_key)

    def move_candidate(self, ticket, to_sitting, seat_no, text, staff: str) -> dict:
        self._candidate(ticket)
        if not isinstance(to_sitting, str) or to_sitting not in self.sittings:
            raise ExamError("bad_request", "请选择调入的考场场次")
        if seat_no is not None and (type(seat_no) is not int or not 0 < seat_no < 10_000):
            raise ExamError("bad_request", "座位号应为正整数")
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT:
            raise ExamError("bad_request", "请填写调换原因")
        ch = self._commit(exception_ops.move_candidate, ticket, to_sitting, seat_no, text.strip(), self.clock(), staff)
        return ch.result

    def reschedule(self, sitting_id: str, ticket, kind, text, staff: str) -> list[str]:
        """One candidate (ticket) or, with ticket None, the whole sitting."""
        if ticket is not None:
            if self._candidate(ticket)["sitting_id"] != sitting_id:
                raise ExamError("bad_request", "考生不在本场次")
        reason = reason_text(labels.RESCHEDULE_REASONS, kind, text, "待重考原因")
        ch = self._commit(exception_ops.reschedule, sitting_id, None if ticket is None else [ticket], reason,
                          self.clock(), staff)
        return ch.result

    def home_roster(self, sitting_id: str) -> set[str]:
        """The candidates whose papers the bundle sealed with this sitting: moves change the
        roster, not where a paper was sealed."""
        return {t for t, c in self.candidates.items() if (c.get("home_sitting") or c["sitting_id"]) == sitting_id}
