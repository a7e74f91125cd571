"""The phone's HTTP side: the app shell, its assets, the paper and question images."""
from __future__ import annotations

import gzip

from flask import Blueprint, Response, current_app, jsonify, request

from . import assets, static_files

bp = Blueprint("candidate", __name__)


def _svc():
    return current_app.extensions["hall.service"]


REHEARSAL_MARK = ('<body class="rehearsal"><div class="rehearsal-mark" role="note">模拟演练 · 练习题，不计成绩</div>'
                  '<div class="rehearsal-watermark" aria-hidden="true">模拟演练</div>').encode()


def _rehearsal_page(raw: bytes) -> bytes:
    """A rehearsal's pages say so on every screen: a strip above the app, a watermark over it."""
    return raw.replace(b"<body>", REHEARSAL_MARK, 1)


def _page(name: str):
    variant = _rehearsal_page if _svc().meta.get("rehearsal") == "1" else None
    return static_files.send(assets.CANDIDATE_DIR, name, variant=variant)


@bp.get("/")
def landing():
    return _page("landing.html")


@bp.get("/r/<token>")
def app_shell(token: str):
    # The token is read by the app from the URL; it is verified on login, not here,
    # so a stale QR still shows a page that explains what to do.
    return _page("index.html")


@bp.get("/static/client/<path:name>")
def client_asset(name: str):
    return static_files.send(assets.CANDIDATE_DIR, name)


@bp.get("/k")
@bp.get("/k/<code>")
def room_code(code: str | None = None):
    """The typed fallback for the room QR: /k/<code> (or the landing page's form, /k?code=)
    sends the phone to the same fresh /r/<token> the QR shows. Wrong codes are rate-limited
    per address like logins."""
    from flask import redirect, render_template

    from ..auth.room_codes import normalize

    cfg = current_app.config["HALL"]["security"]
    typed = normalize(code if code is not None else request.args.get("code", ""))
    limiter = current_app.extensions["hall.code_limiter"]
    key = "a:" + (request.remote_addr or "")
    wait = limiter.retry_after(key)
    if wait > 0:
        return render_template("room_code.html", error=f"尝试次数过多，请 {int(wait) + 1} 秒后再试，或举手联系监考老师。",
                               typed=typed), 429
    if cfg["qr_rotate_seconds"]:
        return render_template("room_code.html", typed=typed,
                               error="本考场使用动态二维码，不能输入考场码。请扫描监考老师屏幕上的二维码。"), 409
    sitting_id = current_app.extensions["hall.room_by_code"].get(typed)
    if sitting_id is None:
        if typed:
            limiter.failed(key)
        return render_template("room_code.html", typed=typed,
                               error="考场码不正确，请核对考场门口海报上的考场码（4位）。" if typed else None), \
            (404 if typed else 200)
    limiter.succeeded(key)
    return redirect("/r/" + _svc().qr_token(sitting_id))


@bp.get("/vendor/socket.io.min.js")
def socketio_client():
    return static_files.send(assets.SOCKETIO_JS.parent, assets.SOCKETIO_JS.name, "public, max-age=3600")


def _error(status: int, code: str) -> Response:
    from ..exam.errors import MESSAGES

    resp = jsonify({"error": {"code": code, "message": MESSAGES.get(code, code)}})
    resp.status_code = status
    return resp


@bp.get("/api/paper")
def paper():
    svc = _svc()
    auth = request.headers.get("Authorization", "")
    ticket = svc.ticket_for_session(auth[7:]) if auth.startswith("Bearer ") else None
    if ticket is None:
        return _error(401, "bad_session")
    a = svc.attempts.get(ticket)
    if a is None or a["status"] not in ("answering", "submitted", "terminated"):
        return _error(409, "not_open")
    if ticket not in svc.papers:
        return _error(409, "paper_sealed")
    body, paper_hash, _ = svc.papers[ticket]  # gzip-compressed
    etag = f'"{paper_hash}"'
    headers = {"ETag": etag, "Cache-Control": "private, no-cache", "Vary": "Accept-Encoding"}
    if request.headers.get("If-None-Match") == etag:
        return Response(status=304, headers=headers)
    if "gzip" in request.headers.get("Accept-Encoding", ""):
        headers["Content-Encoding"] = "gzip"
    else:
        body = gzip.decompress(body)  # every browser asks for gzip; this is for odd clients
    return Response(body, mimetype="application/json", headers=headers)


@bp.get("/api/media/<name>")
def media(name: str):
    data = current_app.extensions["hall.media"](name)
    if data is None:
        return _error(404, "bad_request")
    content_type, blob = data
    return Response(blob, mimetype=content_type,
                    headers={"Cache-Control": "public, max-age=31536000, immutable"})


@bp.get("/healthz")
def healthz():
    from ..realtime.acks import now_ms

    return jsonify({"ok": True, "now": now_ms(), "fault": current_app.extensions["hall.writer"].fault,
                    "alerts": current_app.extensions["hall.alerts"]()})
