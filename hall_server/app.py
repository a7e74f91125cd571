"""Application factory: config -> database -> writer -> exam service -> Flask + Socket.IO."""
from __future__ import annotations

import logging
import secrets

from flask import Flask
from flask_socketio import SocketIO

from . import config as config_mod
from .auth import qr_tokens
from .auth.staff import StaffDirectory, address_allowed
from .db import schema, waiters
from .db.writer import Writer
from .exam import clock as clock_mod
from .exam.service import ExamService
from .realtime import acks
from .net import heartbeat, ws_mask
from .net.admission import Credentials
from .net.lan import public_base_url
from .realtime.candidate import CandidateChannel
from .realtime.flow import Flow
from .realtime.packets import TextPacket
from .realtime.staff import StaffChannel

log = logging.getLogger(__name__)


class Hall:
    """Everything one running appliance holds, for the CLI and the tests."""

    def __init__(self, app: Flask, socketio: SocketIO, service: ExamService, writer: Writer):
        self.app, self.socketio, self.service, self.writer = app, socketio, service, writer
        self.dirty: set[str] = set()  # tickets whose progress the console has not seen yet
        # What the console must see at once (writer fault, a failing sweep, the clock):
        # key -> Chinese message. Shown on every console page and in /healthz.
        self.alerts: dict[str, str] = {}
        self._sweep_failures: dict[str, str] = {}
        self.dirty_sittings: set[str] = set()  # rooms whose counts (应到/实到/缺考) may have changed
        self.replica = None   # the copier's supervisor when [replica] path is set (replica/supervisor.py)

    def qr_url(self, sitting_id: str) -> str:
        return self.app.extensions["hall.qr_url"](sitting_id)

    def credentials(self) -> Credentials:
        """What the connection reserve (net/admission.py) checks a request against: this
        exam's sessions, room tokens signed with this site's key, the staff allowlist."""
        svc, cfg = self.service, self.app.config["HALL"]

        def token_valid(token: str) -> bool:
            try:
                qr_tokens.verify(svc.site_public, token, svc.meta["site_no"], svc.clock())
            except qr_tokens.TokenError:
                return False
            return True

        allow = cfg["security"]["staff_allowlist"]
        pairing = self.app.extensions["hall.pairing"]
        return Credentials(lambda s: svc.ticket_for_session(s) is not None, token_valid,
                           lambda ip: address_allowed(ip, allow), device_valid=pairing.allowed)

    def start_background(self) -> None:
        sweep = self.app.config["HALL"]["rules"]["timeup_sweep_seconds"]
        self.socketio.start_background_task(self._sweeper, sweep)
        self.start_face_worker()
        if self.app.config["HALL"]["server"]["gc_freeze"]:
            self.socketio.start_background_task(self._freezer, 5.0)
        cfg = self.app.extensions["hall.config"]
        if cfg["replica"]["path"]:
            from .replica.supervisor import ReplicaSupervisor

            self.replica = ReplicaSupervisor(cfg, self.app.extensions["hall.db_path"],
                                             self.app.extensions["hall.base_url"], self.service.clock,
                                             self.socketio.start_background_task, self.socketio.sleep).start()

    def start_face_worker(self) -> None:
        """The offline face check, in a low-priority process of its own (proctor/face_worker.py)."""
        cfg = self.app.config["HALL"]
        pc = cfg["proctor"]
        if not (pc["enabled"] and pc["face_worker"]) or cfg["server"]["async_mode"] != "eventlet":
            return
        from .proctor import face, face_client

        if not face.available():
            log.warning("face check off: dlib or face-recognition-models missing (pip install '.[face]')")
            return
        self.app.extensions["hall.face"] = face_client.FaceClient(self.service, pc["face_upsample"]).start()

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
        while True:
            self.socketio.sleep(every)
            self.sweep_once()

    def sweep_once(self) -> None:
        """One round of the background work. Each step is on its own: one that raises is
        logged and shown on the console, and the others (time-ups above all) still run,
        this round and every round after."""
        staff = self.app.extensions["hall.staff_channel"]
        dirty = list(self.dirty)
        self.dirty.clear()  # no yield between the copy and the clear: nothing is lost
        steps = (("progress", lambda: dirty and staff.push_progress(dirty)),
                 ("timeups", self.service.sweep_timeups),
                 ("absent", self.service.sweep_absent),
                 ("captures", self.service.sweep_captures),
                 ("rooms", self._push_rooms),
                 ("clock", self.check_clock))
        for name, step in steps:
            try:
                step()
                self._sweep_failures.pop(name, None)
            except Exception as e:
                if name not in self._sweep_failures:
                    log.exception("background step %s failed", name)
                self._sweep_failures[name] = f"{type(e).__name__}: {e}"
        try:
            self.refresh_alerts()
        except Exception:
            log.exception("pushing alerts failed")

    def _push_rooms(self) -> None:
        """One count update (应到/实到/缺考) per changed room per sweep, not per candidate."""
        staff = self.app.extensions["hall.staff_channel"]
        rooms = list(self.dirty_sittings)
        self.dirty_sittings.clear()
        for sitting_id in rooms:
            staff.push_sitting(sitting_id)

    def check_clock(self) -> None:
        self.service.follow_wall_clock(self.app.config["HALL"]["clock"]["drift_alert_seconds"])

    def current_alerts(self) -> dict[str, str]:
        alerts = {}
        if self.writer.fault:
            alerts["storage"] = ("服务器无法保存数据：" + self.writer.fault
                                 + "。考生答案暂存在手机上。请立即检查电脑磁盘空间，并联系技术支持。")
        for name, err in self._sweep_failures.items():
            alerts["sweep:" + name] = (f"后台任务出错（{name}）：{err}。其他后台任务（到时自动交卷、缺考标记）仍在运行；"
                                       "请记录此情况并联系技术支持。")
        paused = [s for s in self.service.sittings.values() if s["status"] == "paused"]
        if self.service.meta.get("takeover_at") and paused:
            alerts["takeover"] = (f"本机已从实时备份接管考点服务器，{len(paused)} 个场次处于暂停状态。请各考场确认考生手机已重新连接"
                                  "（考生名单显示“在线”）后，在该考场页面按“恢复考试”，考生时间顺延。")
        replica = self.replica.alert() if self.replica else None
        if replica:
            alerts["replica"] = replica
        clock = self.service.clock
        limit = self.app.config["HALL"]["clock"]["drift_alert_seconds"]
        if isinstance(clock, clock_mod.ExamClock) and abs(clock.drift()) > limit:
            d = clock.drift()
            m, sec = divmod(int(abs(d)), 60)
            alerts["clock"] = (f"电脑系统时间被{'调快' if d > 0 else '调慢'}了 {m} 分 {sec} 秒。"
                               "考试计时不受影响，仍按开考时的时钟计时；考试期间请不要调整电脑时间。"
                               "本场结束后，考试时钟将自动改为电脑时间。")
        return alerts

    def refresh_alerts(self) -> None:
        alerts = self.current_alerts()
        if alerts != self.alerts:
            self.alerts = alerts
            staff = self.app.extensions["hall.staff_channel"]
            staff.push_fault(self.writer.fault)
            staff.push_alerts(alerts)


def anchor_clock(conn) -> clock_mod.ExamClock:
    """Exam time for this process: the anchor of this boot if a previous process left one
    (a restart keeps exam time exact even if the wall clock moved meanwhile), else the wall."""
    meta = dict(conn.execute("SELECT key, value FROM meta WHERE key LIKE 'clock_%'").fetchall())
    boot = clock_mod.boot_id()
    exam_clock = clock_mod.ExamClock.from_meta(meta, boot)
    conn.executemany("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                     list(exam_clock.to_meta(boot).items()))
    return exam_clock


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
    exam_clock = anchor_clock(db.conn)
    db.conn.close()

    writer = Writer(db_path, waiters.for_mode(mode), cfg["writer"]["synchronous"],
                    cfg["writer"]["max_batch"], checkpoint_seconds=cfg["writer"]["checkpoint_seconds"],
                    timeout=cfg["writer"]["call_timeout_seconds"]).start()
    service = ExamService(cfg, writer, clock=exam_clock).load(db_path)
    acks.clock = exam_clock
    staff_dir = StaffDirectory.load(db_path)

    app = Flask(__name__)
    app.config.update(SECRET_KEY=secret, HALL=cfg.data, SESSION_COOKIE_SAMESITE="Strict",
                      SESSION_COOKIE_HTTPONLY=True,
                      # bodies: forms and the camera's photos (proctor.max_upload_bytes), nothing larger
                      MAX_CONTENT_LENGTH=max(64 * 1024, cfg["proctor"]["max_upload_bytes"]))
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
    app.extensions["hall.config"] = cfg        # hall doctor on the console re-reads the same config
    from . import zone

    app.extensions["hall.zone"] = zone.name_for(service.meta, cfg)   # the exam's time zone (IANA name)
    from .contacts import for_district

    app.extensions["hall.contacts"] = for_district(service.meta.get("district", "")).lines()  # whom to call
    from .auth import room_codes
    from contracts.ratelimit import LoginLimiter

    codes = room_codes.codes_for(room_codes.secret_of(service.meta["site_key_private"]), service.sittings)
    app.extensions["hall.room_codes"] = codes                                  # sitting_id -> code
    app.extensions["hall.room_by_code"] = {c: sid for sid, c in codes.items()}
    sec = cfg["security"]
    app.extensions["hall.code_limiter"] = LoginLimiter(sec["login_max_failures"], sec["login_lockout_seconds"])

    from .auth.pairing import Pairing

    pairing = Pairing(writer, exam_clock, sec["pairing_code_seconds"])
    pairing_conn = schema.connect(db_path, readonly=True)
    try:
        pairing.load(pairing_conn)          # tablets paired before a restart stay paired
    finally:
        pairing_conn.close()
    app.extensions["hall.pairing"] = pairing

    from .web import candidate, console, pairing as pairing_pages

    app.register_blueprint(candidate.bp)
    app.register_blueprint(console.bp)
    app.register_blueprint(pairing_pages.bp)
    from .proctor import web as proctor_web

    app.register_blueprint(proctor_web.phone_bp)
    app.register_blueprint(proctor_web.console_bp)
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
    from .realtime import staff_exceptions

    staff_exceptions.register(staff)
    Flow(socketio.server, cfg["server"], mode).install()  # per-connection limits on events

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

    def candidate_moved(ticket: str, from_sitting: str) -> None:
        staff_exceptions.push_moved(staff, ticket, from_sitting)
        hall.dirty_sittings.add(from_sitting)

    service.on_moved = candidate_moved
    staff.on_device_approved = phones.device_approved
    staff.on_device_rejected = phones.device_rejected
    staff.alerts_now = lambda: hall.alerts
    staff.device_allowed = pairing.allowed
    pairing.on_revoked = staff.drop_device
    app.extensions["hall.staff_channel"] = staff
    app.extensions["hall.alerts"] = lambda: hall.alerts
    return hall
