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

    def push_progress(self, tickets) -> None:
        """Answer progress, batched: one small event per watched room per sweep instead of a
        full row per answer (at 1,000 phones the rows were a sixth of the server's CPU)."""
        by_sitting: dict[str, list] = {}
        for ticket in tickets:
            c = self.svc.candidates.get(ticket)
            if c:
                by_sitting.setdefault(c["sitting_id"], []).append(self.svc.progress_row(ticket))
        for sitting_id, rows in by_sitting.items():
            self.sio.emit("progress", {"sitting": sitting_id, "rows": rows}, to=f"watch:{sitting_id}", namespace=NS)

    def fault_now(self) -> str | None:
        return self.svc.writer.fault

    on_device_approved = staticmethod(lambda ticket, session: None)
    on_device_rejected = staticmethod(lambda ticket: None)

    def push_fault(self, fault: str | None) -> None:
        self.sio.emit("fault", {"fault": fault}, namespace=NS)

    alerts_now = staticmethod(lambda: {})

    def push_alerts(self, alerts: dict[str, str]) -> None:
        self.sio.emit("alerts", {"alerts": alerts}, namespace=NS)
    def check_date(self, sitting_id: str, confirmed) -> None:
        """Starting a sitting on a day that is not its date (in the exam's zone) needs a
        second, explicit confirmation: ``confirm_date: true`` (a wrong laptop date, a rehearsal
        on the eve, the wrong day's room)."""
        from .. import zone

        s = self.svc.sittings.get(sitting_id)
        if s is None or s["status"] != "planned" or confirmed is True:
            return
        tz = zone.get(current_app.extensions["hall.zone"])
        today = zone.today(tz, self.svc.clock())
        if s["date"] != today:
            raise ExamError("bad_state", f"本场次的考试日期是 {s['date']}，今天（{zone.label(current_app.extensions['hall.zone'], tz, self.svc.clock())}）"
                            f"是 {today}。确需今天开考，请勾选确认后再开考。",
                            confirm_date=True, date=s["date"], today=today)

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
            if self.fault_now():
                sio.emit("fault", {"fault": self.fault_now()}, to=request.sid, namespace=NS)
            sio.emit("alerts", {"alerts": self.alerts_now()}, to=request.sid, namespace=NS)

        @sio.on("disconnect", namespace=NS)
        def disconnect(*_):
            if sio.server.manager.is_connected(request.sid, NS):
                return  # an emitted "disconnect" event, not the socket going away
            self.sid_staff.pop(request.sid, None)

        @sio.on("watch", namespace=NS)
        @handler
        def watch(p):
            sitting_id = self.sitting_for(p)
            join_room(f"watch:{sitting_id}")
            return ok(sitting=svc.sitting_view(sitting_id), fault=self.fault_now(),
                      candidates=[svc.staff_row(t) for t in svc.tickets_in(sitting_id)])

        @sio.on("start_sitting", namespace=NS)
        @handler
        def start_sitting(p):
            sitting_id = self.sitting_for(p)
            self.check_date(sitting_id, p.get("confirm_date"))
            svc.start_sitting(sitting_id, self.staff().username, p.get("release_code"))
            return ok(sitting=svc.sitting_view(sitting_id))

        def room_action(name):
            """Register a staff event that acts on one sitting and answers with its view."""
            def deco(fn):
                @sio.on(name, namespace=NS)
                @handler
                def wrapper(p):
                    sitting_id = self.sitting_for(p)
                    extra = fn(p, sitting_id, self.staff().username) or {}
                    return ok(sitting=svc.sitting_view(sitting_id), **extra)
                return wrapper
            return deco

        def ticket_in(p, sitting_id):
            t = p.get("ticket")
            if not isinstance(t, str) or svc.candidates.get(t, {}).get("sitting_id") != sitting_id:
                raise ExamError("bad_request", "考生不在本场次")
            return t

        @room_action("admit_late")
        def admit_late(p, sitting_id, staff):
            svc.admit_late(ticket_in(p, sitting_id), p.get("reason"), staff)

        @room_action("extra_time")
        def extra_time(p, sitting_id, staff):
            t = ticket_in(p, sitting_id) if p.get("ticket") is not None else None
            svc.extra_time(sitting_id, t, p.get("minutes"), p.get("reason"), staff)

        @room_action("pause")
        def pause(p, sitting_id, staff):
            svc.pause(sitting_id, p.get("reason"), staff)

        @room_action("resume")
        def resume(p, sitting_id, staff):
            svc.resume_room(sitting_id, staff)

        @room_action("violation")
        def violation(p, sitting_id, staff):
            svc.violation(ticket_in(p, sitting_id), p.get("level"), p.get("facts"), staff)

        @room_action("incident")
        def incident(p, sitting_id, staff):
            svc.incident(sitting_id, p.get("kind"), p.get("text"), staff)

        @room_action("unlock_login")
        def unlock_login(p, sitting_id, staff):
            svc.unlock_login(ticket_in(p, sitting_id), staff)

        @room_action("approve_device")
        def approve_device(p, sitting_id, staff):
            t = ticket_in(p, sitting_id)
            session = svc.approve_device(t, staff)
            self.on_device_approved(t, session)

        @room_action("reject_device")
        def reject_device(p, sitting_id, staff):
            t = ticket_in(p, sitting_id)
            svc.reject_device(t, staff)
            self.on_device_rejected(t)

        @room_action("id_check")
        def id_check(p, sitting_id, staff):
            # 身份已核验 / 其他证件 (approver) at entry, the second check during the exam
            row = svc.id_check(ticket_in(p, sitting_id), sitting_id, p.get("stage"), p.get("method"),
                               p.get("document"), p.get("approver"), staff)
            return {"id_check": svc.id_check_view(row)}

        @room_action("paper_entry")
        def paper_entry(p, sitting_id, staff):
            return {"entry": svc.paper_entry(ticket_in(p, sitting_id), p.get("pass"), p.get("answers"), staff)}

        @sio.on("end_sitting", namespace=NS)
        @handler
        def end_sitting(p):
            sitting_id = self.sitting_for(p)
            svc.end_sitting(sitting_id, self.staff().username)
            return ok(sitting=svc.sitting_view(sitting_id))
