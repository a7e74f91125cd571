"""HTTP for camera proctoring: the phone's upload, and the console's photo views.

Photos are personal data: only a staff session from an allowed address gets one, an
invigilator only of their own room, and every view is written to the audit chain before
the bytes are sent. A phone never gets any photo back, not even its own.
"""
from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, jsonify, request

from ..exam.errors import MESSAGES, ExamError
from . import photos

phone_bp = Blueprint("proctor_phone", __name__)
console_bp = Blueprint("proctor_console", __name__, url_prefix="/console/photos")

STATUS = {"bad_session": 401, "not_logged_in": 409, "capture_conflict": 409, "capture_limit": 409,
          "bad_photo": 422, "too_large": 413, "bad_request": 400, "storage": 503, "camera_off": 404}


def _svc():
    return current_app.extensions["hall.service"]


def _fail(code: str, message: str | None = None, **extra):
    from ..realtime.acks import now_ms

    resp = jsonify({"ok": False, "now": now_ms(),
                    "error": {"code": code, "message": message or MESSAGES.get(code, code), **extra}})
    resp.status_code = 413 if extra.get("reason") == "too_large" else STATUS.get(code, 400)
    return resp


@phone_bp.post("/api/capture")
def upload():
    """Body: the JPEG itself. Headers: Authorization: Bearer <session>, X-Capture-Id,
    X-Capture-Slot, X-Capture-Source (file|camera), X-Taken-At (ms, the phone's claim).
    Answers only after the file and its row are durable (docs/protocol.md "Camera")."""
    from ..realtime.acks import now_ms

    svc = _svc()
    auth = request.headers.get("Authorization", "")
    ticket = svc.ticket_for_session(auth[7:]) if auth.startswith("Bearer ") else None
    if ticket is None:
        return _fail("bad_session")
    limit = svc.pcfg["max_upload_bytes"]
    if request.content_length is None or request.content_length > limit:
        # refused before reading a byte of it
        return _fail("bad_photo", f"照片太大（上限 {limit} 字节），请重新拍照", reason="too_large")
    data = request.get_data(cache=False)
    if len(data) > limit:
        return _fail("bad_photo", f"照片太大（上限 {limit} 字节），请重新拍照", reason="too_large")
    h = request.headers
    try:
        row, result = svc.capture_upload(ticket, h.get("X-Capture-Id"), h.get("X-Capture-Slot"),
                                         h.get("X-Capture-Source"), h.get("X-Taken-At"), data)
    except ExamError as e:
        return _fail(e.code, e.message, **e.extra)
    return jsonify({"ok": True, "now": now_ms(), "result": result,
                    "capture": {"id": row["capture_id"], "slot": row["slot"], "sha256": row["sha256"],
                                "bytes": row["bytes"]},
                    "state": svc.state(ticket)})


@console_bp.before_request
def staff_only():
    from ..auth.staff import address_allowed
    from ..web.console import current_staff

    if not address_allowed(request.remote_addr, current_app.config["HALL"]["security"]["staff_allowlist"]):
        abort(403, "控制台只能在考点电脑上打开（security.staff_allowlist）")
    if current_staff() is None:
        abort(403, "请先登录控制台")


from ..web import console as _console  # noqa: E402

# The console's page furniture (exam zone, alerts) for its error page.
console_bp.context_processor(_console.exam_zone)
console_bp.context_processor(_console.alerts)


@console_bp.errorhandler(Exception)
def console_error(err):
    """The console's Chinese error page, never the framework's English one."""
    return _console.console_error(err)


def _may_see(ticket: str):
    from ..web.console import current_staff

    svc, staff = _svc(), current_staff()
    c = svc.candidates.get(ticket)
    if c is None:
        abort(404)
    if not staff.may_run(svc.sittings[c["sitting_id"]]["room_id"]):
        abort(403, "无权查看其他考场考生的照片")
    return staff


def _jpeg(data: bytes) -> Response:
    return Response(data, mimetype="image/jpeg", headers={"Cache-Control": "private, no-store"})


@console_bp.get("/capture/<capture_id>.jpg")
def capture_photo(capture_id: str):
    svc = _svc()
    c = svc.captures.get(capture_id)
    if c is None or c["status"] != "ok":
        abort(404)
    staff = _may_see(c["ticket"])
    data = photos.read(svc.photo_root, c["sha256"]) if c["purged_at"] is None else None
    if data is None:
        abort(404, "照片已按规定删除")
    svc.audit_photo_view(staff.username, c["ticket"], capture_id)  # audited before it is shown
    return _jpeg(data)


@console_bp.get("/roster/<ticket>.jpg")
def roster_photo(ticket: str):
    svc = _svc()
    staff = _may_see(ticket)
    sha = svc.roster_photos.get(ticket)
    data = photos.read(svc.photo_root, sha) if sha else None
    if data is None:
        abort(404)
    svc.audit_photo_view(staff.username, ticket, "roster")
    return _jpeg(data)


@console_bp.get("/list/<ticket>")
def capture_list(ticket: str):
    """The strip's data (no image bytes): every capture with times and flags."""
    svc = _svc()
    _may_see(ticket)
    caps = sorted(svc.captures_by_ticket.get(ticket, ()), key=lambda c: (c["taken_at"] or c["received_at"]))
    return jsonify({"ticket": ticket, "name": svc.candidates[ticket]["name"],
                    "summary": svc.camera_summary(ticket), "captures": [svc.capture_view(c) for c in caps],
                    "threshold": svc.pcfg["similarity_threshold"]})
