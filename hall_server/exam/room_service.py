"""What staff do to a running room, on top of the exam service's state mirror.

Every action is validated here (types, lengths, room scope is checked by the caller),
committed by the writer with its audit entry, and only then mirrored and pushed.
"""
from __future__ import annotations

import secrets

from contracts.exam import INCIDENT_KINDS, VIOLATION_LEVELS

from . import room_ops, rules
from .errors import ExamError

MAX_TEXT = 2000
MAX_EXTRA_S = 4 * 3600


def text_field(v, field: str, required: bool = True) -> str:
    if not isinstance(v, str) or len(v) > MAX_TEXT or (required and not v.strip()):
        raise ExamError("bad_request", f"请填写{field}")
    return v.strip()


class RoomActions:
    """Mixed into ExamService; uses its mirror, writer and hooks. Every change reaches the
    mirror through ExamService.apply, from what the transaction returned."""

    pending_devices: dict

    def _candidate(self, ticket) -> dict:
        if not isinstance(ticket, str) or ticket not in self.candidates:
            raise ExamError("bad_request", "考生不存在")
        return self.candidates[ticket]

    # -- absentees and latecomers -----------------------------------------------------
    def sweep_absent(self) -> list[str]:
        marked = []
        for sitting_id, s in list(self.sittings.items()):
            now = self.clock()  # each commit yields: a time read before it would be stale
            if s["status"] not in ("started", "paused"):
                continue
            if not rules.too_late(self.sitting_times(sitting_id), now):
                continue
            if all(t in self.attempts for t in self.tickets_in(sitting_id)):
                continue
            ch = self._commit(room_ops.mark_absent, sitting_id, now)
            marked += [r["ticket"] for r in ch.attempts]
        return marked

    def admit_late(self, ticket, reason, staff: str) -> None:
        self._candidate(ticket)
        reason = text_field(reason, "迟到原因")
        self._commit(room_ops.admit_late, ticket, reason, self.clock(), staff)

    # -- time ---------------------------------------------------------------------------
    def extra_time(self, sitting_id: str, ticket, minutes, reason, staff: str) -> None:
        if ticket is not None:
            if self._candidate(ticket)["sitting_id"] != sitting_id:
                raise ExamError("bad_request", "考生不在本场次")
        if type(minutes) not in (int, float) or not 0 < minutes * 60 <= MAX_EXTRA_S:
            raise ExamError("bad_request", "延长时间应在 1 到 240 分钟之间")
        reason = text_field(reason, "延时原因（系统原因）")
        self._commit(room_ops.extra_time, sitting_id, ticket, float(minutes) * 60, reason, self.clock(), staff)

    def pause(self, sitting_id: str, reason, staff: str) -> None:
        reason = text_field(reason, "暂停原因")
        self._commit(room_ops.pause, sitting_id, reason, self.clock(), staff)

    def resume_room(self, sitting_id: str, staff: str) -> None:
        self._commit(room_ops.resume, sitting_id, self.clock(), staff)

    # -- violations and incidents -------------------------------------------------------
    def violation(self, ticket, level, facts, staff: str) -> dict | None:
        """Returns the prompt to record cheating after repeated minor violations, or None."""
        self._candidate(ticket)
        if not isinstance(level, str) or level not in VIOLATION_LEVELS:
            raise ExamError("bad_request", "违纪类别不正确")
        facts = text_field(facts, "违纪事实")
        ch = self._commit(room_ops.violation, ticket, level, facts, self.clock(), staff, self.receipt_key,
                          self.cfg["rules"]["minor_violations_before_cheating"])
        return ch.result

    def incident(self, sitting_id: str | None, kind, text, staff: str) -> None:
        if not isinstance(kind, str) or kind not in INCIDENT_KINDS:
            raise ExamError("bad_request", "情况类别不正确")
        text = text_field(text, "情况说明")
        self._commit(room_ops.incident, sitting_id, kind, text, self.clock(), staff)

    # -- logins and devices -------------------------------------------------------------
    def unlock_login(self, ticket, staff: str) -> None:
        """解除锁定: lift the login lock of a candidate (audited)."""
        self._candidate(ticket)
        self._commit(room_ops.unlock_login, ticket, self.clock(), staff)
        self.limiter.clear_ticket(ticket)
        self.on_attempt(ticket)

    def approve_device(self, ticket, staff: str) -> str:
        self._candidate(ticket)
        pending = self.pending_devices.get(ticket)
        if pending is None:
            raise ExamError("bad_state", "该考生没有待确认的换机申请")
        session = secrets.token_urlsafe(24)
        from .service import session_hash

        self._commit(room_ops.approve_device, ticket, pending["device"], session_hash(session), self.clock(), staff)
        self.pending_devices.pop(ticket, None)
        return session

    def reject_device(self, ticket, staff: str) -> None:
        self._candidate(ticket)
        if self.pending_devices.pop(ticket, None) is None:
            raise ExamError("bad_state", "该考生没有待确认的换机申请")
        self.on_attempt(ticket)

    # -- paper fallback -----------------------------------------------------------------
    def print_booklets(self, sitting_id: str, tickets, staff: str) -> None:
        """Allow and audit printing these candidates' question booklets (试题册)."""
        from . import fallback_ops

        if (not isinstance(tickets, list) or not 0 < len(tickets) <= 200
                or not all(isinstance(t, str) and len(t) <= 64 for t in tickets)):
            raise ExamError("bad_request", "请选择考生")
        self._commit(fallback_ops.print_booklets, sitting_id, list(dict.fromkeys(tickets)), self.clock(), staff)

    def paper_entry(self, ticket, pass_no, answers, staff: str) -> dict:
        self._candidate(ticket)
        if type(pass_no) is not int or pass_no not in (1, 2) or not isinstance(answers, str) or len(answers) > 1000:
            raise ExamError("bad_request")
        answers = answers.strip().upper().replace(" ", "")
        keys = self.papers[ticket][2] if ticket in self.papers else None
        if keys is None:
            raise ExamError("paper_sealed")
        if len(answers) != len(keys):
            raise ExamError("bad_request", f"应录入 {len(keys)} 题，实际 {len(answers)} 题（未作答用 - 表示）")
        for i, ch in enumerate(answers):
            if ch != "-" and ch not in keys[i]:
                raise ExamError("bad_choice", f"第 {i + 1} 题没有选项 {ch}")
        ch = self._commit(room_ops.paper_entry, ticket, pass_no, answers, self.clock(), staff, self.receipt_key)
        return ch.result
