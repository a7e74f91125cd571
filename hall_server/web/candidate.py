"""The phone's HTTP side: the app shell, its assets, the paper and question images."""
from __future__ import annotations

import gzip

from flask import Blueprint, Response, current_app, jsonify, request

from . import assets, static_files

bp = Blueprint("candidate", __name__)


def _svc():
    return current_app.extensions["hall.service"]


@bp.get("/")
def landing():
    return static_files.send(assets.CANDIDATE_DIR, "landing.html")


@bp.get("/r/<token>")
def app_shell(token: str):
    # The token is read by the app from the URL; it is verified on login, not here,
    # so a stale QR still shows a page that explains what to do.
    return static_files.send(assets.CANDIDATE_DIR, "index.html")


@bp.get("/static/client/<path:name>")
def client_asset(name: str):
    return static_files.send(assets.CANDIDATE_DIR, name)


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

    return jsonify({"ok": True, "now": now_ms(), "fault": current_app.extensions["hall.writer"].fault})
