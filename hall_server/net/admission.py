"""Near the connection cap, only the exam's own phones get in.

Many addresses each holding connections under the per-address cap could fill
max_connections, and then a latecomer or a phone reconnecting after a WiFi drop could not
get in at all (issue 12, item 15). This WSGI middleware counts the connections past their
headers and, once that count nears the cap, looks at what each new request carries:

  session  a valid candidate session (`s` in the websocket's query, or the Bearer header
           of /api/paper), or a staff address: admitted up to max_connections;
  token    a valid room QR token: /r/<token>, `t` in the websocket's query, or a Referer
           of /r/<token> (the app's files): admitted while fewer than
           max_connections x (1 - session_reserved_share) are in use;
  neither  admitted while fewer than max_connections x (1 - reserved_share), else 503.

The phone's app puts both in its websocket URL (static_client/candidate/app.js), because a
Socket.IO handshake carries nothing else the server could check before the connection is
up. Below the threshold nothing is checked, so an ordinary exam pays nothing for this.
"""
from __future__ import annotations

import logging
import time
from typing import Callable
from urllib.parse import parse_qs, urlsplit

log = logging.getLogger(__name__)

NEITHER, TOKEN, SESSION = 0, 1, 2
_BUSY_BODY = '{"error":{"code":"busy","message":"服务器繁忙，请稍候几秒再试"}}'.encode()


class Credentials:
    """What a request proves about its sender, checked against the running exam."""

    def __init__(self, session_valid: Callable[[str], bool], token_valid: Callable[[str], bool],
                 staff_address: Callable[[str], bool], device_valid: Callable[[str], bool] = lambda t: False):
        self.session_valid = session_valid
        self.token_valid = token_valid
        self.staff_address = staff_address
        self.device_valid = device_valid    # a paired tablet's cookie (auth/pairing.py)
        self._tokens: dict[str, tuple[bool, float]] = {}  # a room's phones carry the same few tokens

    def classify(self, environ) -> int:
        if self.staff_address(environ.get("REMOTE_ADDR") or ""):
            return SESSION
        if "hall_device=" in (environ.get("HTTP_COOKIE") or "") and self.device_valid(_device(environ)):
            return SESSION
        query = parse_qs(environ.get("QUERY_STRING") or "", max_num_fields=8)
        auth = environ.get("HTTP_AUTHORIZATION") or ""
        session = query.get("s", [auth[7:] if auth.startswith("Bearer ") else ""])[0]
        if session and self.session_valid(session):
            return SESSION
        path = environ.get("PATH_INFO") or ""
        token = (path[3:] if path.startswith("/r/") else query.get("t", [""])[0]
                 or _token_in(environ.get("HTTP_REFERER") or ""))
        return TOKEN if token and self._token(token) else NEITHER

    def _token(self, token: str) -> bool:
        """A signature check per token and minute, not per request."""
        now = time.monotonic()
        hit = self._tokens.get(token)
        if hit is None or now - hit[1] > 60:
            if len(self._tokens) >= 256:
                self._tokens.clear()
            hit = self._tokens[token] = (self.token_valid(token), now)
        return hit[0]


def _device(environ) -> str:
    from http.cookies import SimpleCookie

    try:
        c = SimpleCookie(environ.get("HTTP_COOKIE") or "")
    except Exception:
        return ""
    return c["hall_device"].value if "hall_device" in c else ""


def _token_in(referer: str) -> str:
    path = urlsplit(referer).path if referer else ""
    return path[3:] if path.startswith("/r/") else ""


class Admission:
    def __init__(self, app, in_use: Callable[[], int], max_connections: int, reserved: int,
                 reserved_for_sessions: int, credentials: Credentials):
        self.app = app
        self.in_use = in_use
        # the highest count at which a request of each class is still admitted
        self.limits = (max_connections - reserved, max_connections - reserved_for_sessions, max_connections)
        self.credentials = credentials
        self.refused = [0, 0, 0]
        self._last_log = 0.0

    def __call__(self, environ, start_response):
        n = self.in_use()
        if n > self.limits[NEITHER]:
            kind = self.credentials.classify(environ)
            if n > self.limits[kind]:
                return self._busy(kind, n, start_response)
        return self.app(environ, start_response)

    def _busy(self, kind: int, n: int, start_response):
        self.refused[kind] += 1
        now = time.monotonic()
        if now - self._last_log >= 10:  # under a flood, one line per 10 s says enough
            self._last_log = now
            log.warning("%d connections in use: refusing requests without %s (refused so far: %d without "
                        "credentials, %d with a room token only)", n,
                        "a room token or session" if kind == NEITHER else "a session", *self.refused[:2])
        start_response("503 Service Unavailable", [("Content-Type", "application/json; charset=utf-8"),
                                                   ("Content-Length", str(len(_BUSY_BODY))),
                                                   ("Retry-After", "5"), ("Connection", "close")])
        return [_BUSY_BODY]
