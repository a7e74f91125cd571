"""The centre's admin token (管理口令): results, names, exports and pass marks need it.

* Configured (``admin_token`` / ``--admin-token``): that token.
* Otherwise the first start generates one and keeps only its sha256 in the store's meta;
  ``python -m sync.central serve`` prints it once, ``python -m sync.central admin-token``
  makes a new one (the old one stops working at once: the hash is read per request).

Scripts send ``Authorization: Bearer <token>``. A browser may also log in (form at
``/login``, or ``?token=`` once) and then carries an HttpOnly cookie that expires and only
unlocks reading (GET): changes need the header, so a cookie can never be ridden (CSRF).
``bp`` holds /login and /logout; views that need the token are wrapped in ``admin_only``.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from functools import wraps
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, jsonify, redirect, render_template, request

from hall_server.auth.ratelimit import LoginLimiter

META_KEY = "admin_token_sha256"
COOKIE = "hall_central_admin"
SESSION_S = 12 * 3600
# No 0/o, 1/l/i: read aloud or copied from paper without mistakes. 25 of 31 symbols ≈ 124 bits.
ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
# Guessing the token: after this many wrong tries an address waits, doubling each time.
MAX_FAILURES = 10
LOCKOUT_S = 60

bp = Blueprint("admin", __name__, template_folder="templates")


def new_token() -> str:
    return "-".join("".join(secrets.choice(ALPHABET) for _ in range(5)) for _ in range(5))


def token_hash(token: str) -> str:
    return hashlib.sha256(token.strip().encode("utf-8")).hexdigest()


class AdminAuth:
    def __init__(self, store, configured: str | None = None, max_failures: int = MAX_FAILURES,
                 lockout_s: float = LOCKOUT_S):
        self.store = store
        self.configured = configured.strip() if configured and configured.strip() else None
        self.new_token: str | None = None       # set when this start generated it: show it once
        # Per process: with several server workers an address gets this many tries in each.
        self.limiter = LoginLimiter(max_failures, lockout_s)
        if self.configured is None:
            token = new_token()
            if store.meta_setdefault(META_KEY, token_hash(token)) == token_hash(token):
                self.new_token = token

    @staticmethod
    def reset(store) -> str:
        token = new_token()
        store.set_meta(META_KEY, token_hash(token))
        return token

    def _hash(self) -> str:
        return token_hash(self.configured) if self.configured else (self.store.meta(META_KEY) or "")

    def check(self, token: str | None) -> bool:
        want = self._hash()
        return bool(want) and hmac.compare_digest(token_hash(token or ""), want)

    def _sig(self, exp: int) -> str:
        return hmac.new(self._hash().encode(), f"hall-central-session:{exp}".encode(), "sha256").hexdigest()

    def session_cookie(self) -> str:
        exp = int(time.time()) + SESSION_S
        return f"{exp}:{self._sig(exp)}"

    def cookie_ok(self, value: str | None) -> bool:
        exp, _, sig = (value or "").partition(":")
        return exp.isdigit() and int(exp) > time.time() and hmac.compare_digest(sig, self._sig(int(exp)))


def _auth() -> AdminAuth:
    return current_app.extensions["central_admin"]


def _bearer() -> str | None:
    h = request.headers.get("Authorization", "")
    return h[7:] if h[:7].lower() == "bearer " else None


def _wants_html() -> bool:
    return request.accept_mimetypes.best_match(["application/json", "text/html"]) == "text/html"


def _safe_next(nxt: str | None) -> str:
    return nxt if nxt and nxt.startswith("/") and not nxt.startswith("//") and "\\" not in nxt else "/"


def login_page(nxt: str, message: str, status: int = 401) -> Response:
    return Response(render_template("central_login.html", next=nxt, message=message), status=status,
                    mimetype="text/html")


def _guess(token: str | None) -> bool | Response:
    """Check a presented token, counting wrong ones per address (a short --admin-token
    must not be guessable). Returns True, False, or a 429 response while locked out."""
    auth = _auth()
    key = f"addr:{request.remote_addr}"
    wait = auth.limiter.retry_after(key)
    if wait > 0:
        resp = jsonify({"ok": False, "status": "error", "error": {
            "code": "too_many_attempts", "message": f"管理口令错误次数过多，请 {int(wait) + 1} 秒后再试"}})
        resp.status_code = 429
        resp.headers["Retry-After"] = str(int(wait) + 1)
        return resp
    if auth.check(token):
        auth.limiter.succeeded(key)
        return True
    auth.limiter.failed(key)
    return False


def _deny(message: str = "需要管理口令"):
    if _wants_html():
        return login_page(request.full_path.rstrip("?") if request.query_string else request.path, message)
    return jsonify({"ok": False, "status": "error", "error": {"code": "unauthorized", "message": message}}), 401


def _logged_in(resp):
    resp.set_cookie(COOKIE, _auth().session_cookie(), max_age=SESSION_S, httponly=True, samesite="Lax",
                    secure=request.is_secure, path="/")
    return resp


def admin_only(view):
    """The token in the header; or, for reading, ``?token=`` once or the session cookie."""
    @wraps(view)
    def guarded(*a, **kw):
        token = _bearer()
        if token is not None:
            ok = _guess(token)
            if isinstance(ok, Response):
                return ok
            return view(*a, **kw) if ok else _deny("管理口令不正确")
        if request.method not in ("GET", "HEAD"):
            return _deny()
        if "token" in request.args:          # a link with ?token=: set the cookie, drop it from the URL
            ok = _guess(request.args["token"])
            if isinstance(ok, Response):
                return ok
            if not ok:
                return _deny("管理口令不正确")
            rest = [(k, v) for k, v in request.args.items(multi=True) if k != "token"]
            return _logged_in(redirect(request.path + ("?" + urlencode(rest) if rest else ""), 303))
        if _auth().cookie_ok(request.cookies.get(COOKIE)):
            return view(*a, **kw)
        return _deny()
    return guarded


@bp.get("/login")
def login_form():
    return login_page(_safe_next(request.args.get("next")), "需要管理口令", status=200)


@bp.post("/login")
def login():
    nxt = _safe_next(request.form.get("next"))
    ok = _guess(request.form.get("token"))
    if isinstance(ok, Response):
        return login_page(nxt, ok.get_json()["error"]["message"], status=429)
    if not ok:
        return login_page(nxt, "管理口令不正确，请重新输入")
    return _logged_in(redirect(nxt, 303))


@bp.post("/logout")
def logout():
    resp = redirect("/login", 303)
    resp.delete_cookie(COOKIE, path="/")
    return resp
