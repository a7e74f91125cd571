"""Application factory: config -> database -> writer -> exam service -> Flask + Socket.IO."""
from __future__ import annotations

import logging
import secrets
import time

from flask import Flask
from flask_socketio import SocketIO

from . import config as config_mod
from .auth.staff import StaffDirectory
from .db import schema, waiters
from .db.writer import Writer
from .exam.service import ExamService
from .net import heartbeat, ws_mask
from .net.lan import public_base_url
from .realtime.candidate import CandidateChannel
from .realtime.packets import TextPacket
from .realtime.staff import StaffChannel

log = logging.getLogger(__name__)


class Hall:
    """Everything one running appliance holds, for the CLI and the tests."""

    def __init__(self, app: Flask, socketio: SocketIO, service: ExamService, writer: Writer):
        self.app, self.socketio, self.service, self.writer = app, socketio, service, writer
        self.dirty: set[str] = set()  # tickets whose progress the console has not seen yet
        self.dirty_sittings: set[str] = set()  # rooms whose counts (应到/实到/缺考) may have changed

    def qr_url(self, sitting_id: str) -> str:
        return self.app.extensions["hall.qr_url"](sitting_id)

    def start_background(self) -> None:
        sweep = self.app.config["HALL"]["rules"]["timeup_sweep_seconds"]
        self.socketio.start_background_task(self._sweeper, sweep)
        if self.app.config["HALL"]["server"]["gc_freeze"]:
            self.socketio.start_background_task(self._freezer, 5.0)

    def _freezer(self, every: float) -> None:
        """Keep freezing what lives all sitting (connections, sessions, attempts) as it appears:
        gc.freeze() at start-up only covers the loaded exam, and a full collection otherwise
        walks every connection's objects (~100 ms at 1,000 phones). collect(1) first, so that
        young garbage is freed rather than frozen; both are cheap (young generations only)."""
        import gc

        while True:
            self.socketio.sleep(every)
            gc.collect(1)
            gc.freeze()

    def _sweeper(self, every: float) -> None:
        last_fault = None
        while True:
            self.socketio.sleep(every)
            staff = self.app.extensions["hall.staff_channel"]
            dirty = list(self.dirty)
            self.dirty.clear()  # no yield between the copy and the clear: nothing is lost
            if dirty:
                staff.push_progress(dirty)
            rooms = list(self.dirty_sittings)
            self.dirty_sittings.clear()
            for sitting_id in rooms:      # one count update per room per sweep, not per candidate
                staff.push_sitting(sitting_id)
            try:
                self.service.sweep_timeups()
                self.service.sweep_absent()
            except Exception:  # keep sweeping: one failed commit must not end time-up forever
                log.exception("time-up sweep failed")
            # The writer runs in an OS thread and may not emit; report its faults from here.
            fault = self.writer.fault
            if fault != last_fault:
                last_fault = fault
                self.app.extensions["hall.staff_channel"].push_fault(fault)


def _never():
    return "", 404


def create_app(cfg: config_mod.Config | None = None) -> Hall:
    cfg = cfg or config_mod.load()
    mode = cfg["server"]["async_mode"]
    db_path = cfg.db_path
    if not db_path.exists():
        raise RuntimeError(f"数据库 {db_path} 不存在：请先导入考点数据包（hall import）或运行 make demo")
    db = schema.open_db(db_path, cfg["writer"]["synchronous"])
    secret = schema.get_meta(db, "flask_secret")
    if secret is None:
        secret = secrets.token_hex(32)
        db.conn.execute("INSERT INTO meta(key, value) VALUES ('flask_secret', ?)", (secret,))
    db.conn.close()

    writer = Writer(db_path, waiters.for_mode(mode), cfg["writer"]["synchronous"],
                    cfg["writer"]["max_batch"], checkpoint_seconds=cfg["writer"]["checkpoint_seconds"]).start()
    service = ExamService(cfg, writer).load(db_path)
    staff_dir = StaffDirectory.load(db_path)

    app = Flask(__name__)
    app.config.update(SECRET_KEY=secret, HALL=cfg.data, SESSION_COOKIE_SAMESITE="Strict",
                      SESSION_COOKIE_HTTPONLY=True, MAX_CONTENT_LENGTH=64 * 1024)
    # Websocket only: long-polling's error paths in engineio can pin a server slot (a DoS from
    # one phone), and every browser a candidate brings speaks websocket on a local WiFi.
    socketio = SocketIO(app, async_mode=mode, transports=["websocket"], ping_interval=cfg["server"]["ping_interval"],
                        ping_timeout=cfg["server"]["ping_timeout"], max_http_buffer_size=64 * 1024,
                        serializer=TextPacket, logger=False, engineio_logger=False)
    if mode == "eventlet":
        ws_mask.install()
        heartbeat.install()

    hall = Hall(app, socketio, service, writer)
    base = public_base_url(cfg)
    app.extensions["hall.service"] = service
    app.extensions["hall.writer"] = writer
    app.extensions["hall.staff"] = staff_dir
    app.extensions["hall.media"] = service.media.get
    app.extensions["hall.qr_url"] = lambda sitting_id: f"{base}/r/{service.qr_token(sitting_id)}"
    app.extensions["hall.base_url"] = base
    app.extensions["hall.db_path"] = db_path
    from . import zone

    app.extensions["hall.zone"] = zone.name_for(service.meta, cfg)   # the exam's time zone (IANA name)
    from .auth import room_codes
    from .auth.ratelimit import LoginLimiter

    codes = room_codes.codes_for(room_codes.secret_of(service.meta["site_key_private"]), service.sittings)
    app.extensions["hall.room_codes"] = codes                                  # sitting_id -> code
    app.extensions["hall.room_by_code"] = {c: sid for sid, c in codes.items()}
    sec = cfg["security"]
    app.extensions["hall.code_limiter"] = LoginLimiter(sec["login_max_failures"], sec["login_lockout_seconds"])

    from .web import candidate, console

    app.register_blueprint(candidate.bp)
    app.register_blueprint(console.bp)
    # Flask-SocketIO runs every event handler inside app.request_context() of the connection's
    # /socket.io/ request. Without a rule for that path, pushing the context raises NotFound
    # (WebsocketMismatch for websockets) and Flask keeps it in request.routing_exception:
    # its traceback -> frames -> request context is a reference cycle of ~50 objects per
    # event that only the cyclic GC frees (100-300 ms full collections at 1,000 phones,
    # docs/benchmarks.md). These rules are never dispatched: the Socket.IO middleware answers
    # /socket.io/ before Flask routes.
    app.add_url_rule("/socket.io/", "socketio_path", _never, methods=["GET", "POST"])
    app.add_url_rule("/socket.io/", "socketio_path_ws", _never, websocket=True)

    phones = CandidateChannel(socketio, service)
    staff = StaffChannel(socketio, service, staff_dir)
    phones.register()
    staff.register()

    def attempt_changed(ticket: str) -> None:
        phones.push_state(ticket)
        staff.push_candidate(ticket)
        c = service.candidates.get(ticket)
        if c:
            hall.dirty_sittings.add(c["sitting_id"])

    def sitting_changed(sitting_id: str) -> None:
        for t in service.tickets_in(sitting_id):
            phones.push_state(t)
            staff.push_candidate(t)
        staff.push_sitting(sitting_id)

    service.on_attempt = attempt_changed
    service.on_progress = hall.dirty.add
    service.on_sitting = sitting_changed
    service.on_replaced = phones.replaced
    staff.on_device_approved = phones.device_approved
    staff.on_device_rejected = phones.device_rejected
    app.extensions["hall.staff_channel"] = staff
    return hall
