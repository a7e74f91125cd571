"""Staff events on the /staff namespace: refused without a console login from an allowed address."""
from __future__ import annotations

from flask import current_app, request, session
from flask_socketio import SocketIO, join_room, leave_room

from ..auth.staff import address_allowed
from ..exam.errors import ExamError
from ..exam.service import ExamService
from .acks import handler, ok

NS = "/staff"


class StaffChannel:
    def __init__(self, socketio: SocketIO, service: ExamService, directory):
        self.sio = socketio
        self.svc = service
        self.directory = directory
        self.sid_staff: dict[str, str] = {}

    def staff(self):
        username = self.sid_staff.get(request.sid)
        st = self.directory.get(username)
        if st is None:
            raise ExamError("forbidden")
        return st

    def sitting_for(self, p) -> str:
        sid = p.get("sitting")
        if not isinstance(sid, str) or sid not in self.svc.sittings:
            raise ExamError("unknown_sitting")
        if not self.staff().may_run(self.svc.sittings[sid]["room_id"]):
            raise ExamError("forbidden")
        return sid

    def push_candidate(self, ticket: str) -> None:
        c = self.svc.candidates.get(ticket)
        if c:
            self.sio.emit("candidate", self.svc.staff_row(ticket), to=f"watch:{c['sitting_id']}", namespace=NS)

    def push_sitting(self, sitting_id: str) -> None:
        self.sio.emit("sitting", self.svc.sitting_view(sitting_id), to=f"watch:{sitting_id}", namespace=NS)

    def register(self) -> None:
        sio, svc = self.sio, self.svc

        @sio.on("connect", namespace=NS)
        def connect(auth=None):
            allow = current_app.config["HALL"]["security"]["staff_allowlist"]
            username = session.get("staff")
            if not address_allowed(request.remote_addr, allow) or self.directory.get(username) is None:
                return False  # refuses the connection
            self.sid_staff[request.sid] = username

        @sio.on("disconnect", namespace=NS)
        def disconnect(*_):
            self.sid_staff.pop(request.sid, None)

        @sio.on("watch", namespace=NS)
        @handler
        def watch(p):
            sitting_id = self.sitting_for(p)
            join_room(f"watch:{sitting_id}")
            return ok(sitting=svc.sitting_view(sitting_id),
                      candidates=[svc.staff_row(t) for t in svc.tickets_in(sitting_id)])

        @sio.on("start_sitting", namespace=NS)
        @handler
        def start_sitting(p):
            sitting_id = self.sitting_for(p)
            svc.start_sitting(sitting_id, self.staff().username)
            return ok(sitting=svc.sitting_view(sitting_id))

        @sio.on("end_sitting", namespace=NS)
        @handler
        def end_sitting(p):
            sitting_id = self.sitting_for(p)
            svc.end_sitting(sitting_id, self.staff().username)
            return ok(sitting=svc.sitting_view(sitting_id))
