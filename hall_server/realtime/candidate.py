"""Candidate events on the default namespace. See docs/protocol.md."""
from __future__ import annotations

from flask import request
from flask_socketio import SocketIO, disconnect

from ..exam.errors import ExamError
from ..exam.service import ExamService
from .acks import handler, ok


class CandidateChannel:
    """Binds sockets to attempts and pushes state changes to the right phone."""

    def __init__(self, socketio: SocketIO, service: ExamService):
        self.sio = socketio
        self.svc = service
        self.sid_ticket: dict[str, str] = {}
        self.sid_device: dict[str, str] = {}
        self.ticket_sid: dict[str, str] = {}
        self.pending_sid: dict[str, tuple[str, str]] = {}  # ticket -> (sid, device) awaiting approval

    def bind(self, sid: str, ticket: str, device: str) -> None:
        old = self.ticket_sid.get(ticket)
        if old and old != sid:
            self.sid_ticket.pop(old, None)
        self.sid_ticket[sid] = ticket
        self.sid_device[sid] = device
        self.ticket_sid[ticket] = sid
        self.svc.seen(ticket, True)

    def unbind(self, sid: str) -> None:
        ticket = self.sid_ticket.pop(sid, None)
        self.sid_device.pop(sid, None)
        if ticket and self.ticket_sid.get(ticket) == sid:
            del self.ticket_sid[ticket]
            self.svc.seen(ticket, False)
            self.svc.on_attempt(ticket)

    def ticket(self) -> str:
        t = self.sid_ticket.get(request.sid)
        if t is None:
            raise ExamError("not_logged_in")
        return t

    def push_state(self, ticket: str) -> None:
        sid = self.ticket_sid.get(ticket)
        if sid:
            self.sio.emit("state", self.svc.state(ticket), to=sid)

    def replaced(self, ticket: str, old_device: str | None) -> None:
        for sid, t in list(self.sid_ticket.items()):
            if t == ticket and self.sid_device.get(sid) == old_device:
                self.sio.emit("replaced", {}, to=sid)
                self.sid_ticket.pop(sid, None)
                self.sid_device.pop(sid, None)

    def device_approved(self, ticket: str, session: str) -> None:
        pending = self.pending_sid.pop(ticket, None)
        if pending:
            sid, device = pending
            self.bind(sid, ticket, device)
            self.sio.emit("approved", {**self.welcome(ticket), "session": session}, to=sid)

    def device_rejected(self, ticket: str) -> None:
        pending = self.pending_sid.pop(ticket, None)
        if pending:
            self.sio.emit("rejected", {"error": ExamError("device_rejected").as_error()}, to=pending[0])

    def welcome(self, ticket: str) -> dict:
        return ok(candidate=self.svc.candidate_view(ticket), state=self.svc.state(ticket))

    def register(self) -> None:
        sio, svc = self.sio, self.svc

        @sio.on("disconnect")
        def on_disconnect(*_):
            # A phone can emit an event named "disconnect"; only a real one unbinds.
            if sio.server.manager.is_connected(request.sid, "/"):
                return
            self.unbind(request.sid)

        @sio.on("login")
        @handler
        def login(p):
            try:
                ticket, session = svc.login(p.get("token"), p.get("ticket"), p.get("id6"), p.get("device"),
                                            request.remote_addr or "?")
            except ExamError as e:
                if e.code == "awaiting_approval":
                    self.pending_sid[p["ticket"].strip()] = (request.sid, p["device"])
                raise
            self.bind(request.sid, ticket, p["device"])
            return {**self.welcome(ticket), "session": session}

        @sio.on("resume")
        @handler
        def resume(p):
            ticket = svc.resume(p.get("session"), p.get("device"))
            self.bind(request.sid, ticket, p["device"])
            svc.on_attempt(ticket)
            return self.welcome(ticket)

        @sio.on("confirm")
        @handler
        def confirm(p):
            t = self.ticket()
            svc.confirm(t)
            return ok(state=svc.state(t))

        @sio.on("open")
        @handler
        def open_(p):
            t = self.ticket()
            svc.open(t)
            return ok(state=svc.state(t))

        @sio.on("answer")
        @handler
        def answer(p):
            t = self.ticket()
            choice, seq = svc.answer(t, p.get("q"), p.get("choice"), p.get("seq"), self.sid_device.get(request.sid))
            return ok(q=p["q"], choice=choice, seq=seq)

        @sio.on("submit")
        @handler
        def submit(p):
            t = self.ticket()
            svc.submit(t, p.get("answers"), self.sid_device.get(request.sid))
            st = svc.state(t)
            return ok(receipt=st["receipt"], submitted_at=st["submitted_at"], answered=st["answered"], state=st)

        @sio.on("sync")
        @handler
        def sync(p):
            t = self.ticket()
            return ok(answers=svc.saved_answers(t), state=svc.state(t))

        @sio.on("focus")
        @handler
        def focus(p):
            t = self.ticket()
            svc.focus(t, p.get("hidden"), p.get("ms"))
            return ok()
