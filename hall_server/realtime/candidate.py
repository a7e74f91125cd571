"""Candidate events on the default namespace. See docs/protocol.md.

These handlers are registered on the python-socketio server itself, not through
Flask-SocketIO: they take the sid as an argument and need no Flask request context.
Building that context (request object, URL match, session) for every answer was a sixth
of the server's CPU at 1,000 phones (docs/benchmarks.md), and nothing here uses it.
"""
from __future__ import annotations

from flask_socketio import SocketIO

from ..exam.errors import ExamError
from ..exam.service import ExamService
from .acks import ok, sid_handler

NS = "/"


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

    def ticket(self, sid: str) -> str:
        t = self.sid_ticket.get(sid)
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
        svc = self.svc
        server = self.sio.server  # python-socketio Server: handlers get (sid, payload)

        def on(event):
            def deco(fn):
                server.on(event, sid_handler(fn), namespace=NS)
                return fn
            return deco

        def on_disconnect(sid, *_):
            # A phone can emit an event named "disconnect"; only a real one unbinds.
            if server.manager.is_connected(sid, NS):
                return
            self.unbind(sid)

        server.on("disconnect", on_disconnect, namespace=NS)

        @on("login")
        def login(sid, p):
            environ = server.get_environ(sid, NS) or {}
            try:
                ticket, session = svc.login(p.get("token"), p.get("ticket"), p.get("id6"), p.get("device"),
                                            environ.get("REMOTE_ADDR") or "?")
            except ExamError as e:
                if e.code == "awaiting_approval":
                    self.pending_sid[p["ticket"].strip()] = (sid, p["device"])
                raise
            self.bind(sid, ticket, p["device"])
            return {**self.welcome(ticket), "session": session}

        @on("resume")
        def resume(sid, p):
            ticket = svc.resume(p.get("session"), p.get("device"))
            self.bind(sid, ticket, p["device"])
            svc.on_attempt(ticket)
            return self.welcome(ticket)

        @on("confirm")
        def confirm(sid, p):
            t = self.ticket(sid)
            svc.confirm(t)
            return ok(state=svc.state(t))

        @on("open")
        def open_(sid, p):
            t = self.ticket(sid)
            svc.open(t)
            return ok(state=svc.state(t))

        @on("answer")
        def answer(sid, p):
            t = self.ticket(sid)
            choice, seq = svc.answer(t, p.get("q"), p.get("choice"), p.get("seq"), self.sid_device.get(sid))
            return ok(q=p["q"], choice=choice, seq=seq)

        @on("submit")
        def submit(sid, p):
            t = self.ticket(sid)
            ch = svc.submit(t, p.get("answers"), self.sid_device.get(sid))
            # Built from what the transaction sealed, never from what the phone sent: if the
            # sitting ended first, `final` says so and `answers` is what was saved before.
            row = ch.attempt(t)
            return ok(receipt=row["receipt"], answered=row["answered"], final=ch.result,
                      submitted_at=None if row["submitted_at"] is None else int(row["submitted_at"] * 1000),
                      answers=svc.saved_answers(t, ch.answers.get(t, {})), state=svc.state(t))

        @on("sync")
        def sync(sid, p):
            t = self.ticket(sid)
            return ok(answers=svc.saved_answers(t), state=svc.state(t))

        @on("capture_failed")
        def capture_failed(sid, p):
            # the phone cannot take the prompt's photo (camera refused, none): 抓拍失败 now
            t = self.ticket(sid)
            row = svc.capture_failed(t, p.get("slot"), p.get("reason"))
            return ok(capture={"id": row["capture_id"], "slot": row["slot"], "status": row["status"]},
                      state=svc.state(t))

        @on("focus")
        def focus(sid, p):
            t = self.ticket(sid)
            svc.focus(t, p.get("hidden"), p.get("ms"))
            return ok()
