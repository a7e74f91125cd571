"""The centre's admin token (管理口令): results, names, exports and pass marks need it.

* Configured (``admin_token`` / ``--admin-token``): that token.
* Otherwise the first start generates one and keeps only its sha256 in the store's meta;
  ``python -m sync.central serve`` prints it once, ``python -m sync.central admin-token``
  makes a new one (the old one stops working at once: the hash is read per request).

Scripts send ``Authorization: Bearer <token>``. A browser may also log in (form at
``/login``, or ``?token=`` once) and then carries an HttpOnly cookie that expires and only
unlocks reading (GET): changes need the header, so a cookie can never be ridden (CSRF).
``bp`` holds /login and /logout. Accounts: the city's admin token (``Principal.is_city``,
sees everything) and one token per district office (``accounts.py``: sees and acts on its
own sites only). Views are wrapped in ``login_required`` (either) or ``admin_only`` (the
city). A browser form that changes something carries ``csrf`` derived from its cookie.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from functools import wraps
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, g, jsonify, redirect, render_template, request

from contracts.ratelimit import LoginLimiter

from .accounts import CITY, Principal, account_by_token_hash, account_token_hash, city_principal

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

    def check(self, token: str | None) -> Principal | None:
        """The account a token opens: the city (admin token) or a district office."""
        want, got = self._hash(), token_hash(token or "")
        if want and hmac.compare_digest(got, want):
            return city_principal()
        return account_by_token_hash(self.store, got) if token else None

    def _key(self, who: str) -> str:
        return self._hash() if who == CITY else (account_token_hash(self.store, who) or "")

    def _sig(self, who: str, exp: int) -> str:
        key = self._key(who)
        return hmac.new(key.encode(), f"hall-central-session:{who}:{exp}".encode(), "sha256").hexdigest() \
            if key else ""

    def session_cookie(self, p: Principal) -> str:
        exp = int(time.time()) + SESSION_S
        return f"{exp}:{p.who}:{self._sig(p.who, exp)}"

    def cookie_principal(self, value: str | None) -> Principal | None:
        """The account of a session cookie; a new token for that account ends its cookies."""
        exp, _, rest = (value or "").partition(":")
        who, _, sig = rest.partition(":")
        if not (exp.isdigit() and int(exp) > time.time() and sig):
            return None
        want = self._sig(who, int(exp))
        if not want or not hmac.compare_digest(sig, want):
            return None
        return city_principal() if who == CITY else account_by_token_hash(self.store, self._key(who))

    def csrf(self, cookie: str | None) -> str:
        """The form field that proves a POST comes from our own page (the cookie alone does not)."""
        return hmac.new(self._hash().encode(), f"csrf:{cookie or ''}".encode(), "sha256").hexdigest()[:32]


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


def _guess(token: str | None) -> Principal | bool | Response:
    """Check a presented token, counting wrong ones per address (a short --admin-token
    must not be guessable). Returns the Principal, False, or a 429 response while locked out."""
    auth = _auth()
    key = f"addr:{request.remote_addr}"
    wait = auth.limiter.retry_after(key)
    if wait > 0:
        resp = jsonify({"ok": False, "status": "error", "error": {
            "code": "too_many_attempts", "message": f"管理口令错误次数过多，请 {int(wait) + 1} 秒后再试"}})
        resp.status_code = 429
        resp.headers["Retry-After"] = str(int(wait) + 1)
        return resp
    p = auth.check(token)
    if p is not None:
        auth.limiter.succeeded(key)
        return p
    auth.limiter.failed(key)
    return False


def _deny(message: str = "需要管理口令"):
    if _wants_html():
        return login_page(request.full_path.rstrip("?") if request.query_string else request.path, message)
    return jsonify({"ok": False, "status": "error", "error": {"code": "unauthorized", "message": message}}), 401


def _logged_in(resp, p: Principal):
    resp.set_cookie(COOKIE, _auth().session_cookie(p), max_age=SESSION_S, httponly=True, samesite="Lax",
                    secure=request.is_secure, path="/")
    return resp


def csrf_field() -> str:
    """For templates: the hidden field a browser form posts back."""
    return _auth().csrf(request.cookies.get(COOKIE))


def _form_ok() -> bool:
    sent = request.form.get("csrf", "")
    return bool(sent) and hmac.compare_digest(sent, _auth().csrf(request.cookies.get(COOKIE)))


def _authenticate():
    """-> Principal, or the response to send instead (deny, 429, the ?token= redirect)."""
    token = _bearer()
    if token is not None:
        ok = _guess(token)
        if isinstance(ok, Response):
            return ok
        return ok or _deny("管理口令不正确")
    if request.method not in ("GET", "HEAD"):
        p = _auth().cookie_principal(request.cookies.get(COOKIE))
        if p is None or not _form_ok():       # a cookie alone never changes anything (CSRF)
            return _deny()
        return p
    if "token" in request.args:          # a link with ?token=: set the cookie, drop it from the URL
        ok = _guess(request.args["token"])
        if isinstance(ok, Response):
            return ok
        if not ok:
            return _deny("管理口令不正确")
        rest = [(k, v) for k, v in request.args.items(multi=True) if k != "token"]
        return _logged_in(redirect(request.path + ("?" + urlencode(rest) if rest else ""), 303), ok)
    return _auth().cookie_principal(request.cookies.get(COOKIE)) or _deny()


def login_required(view):
    """Any account: the city or a district office (then in ``g.principal``)."""
    @wraps(view)
    def guarded(*a, **kw):
        p = _authenticate()
        if not isinstance(p, Principal):
            return p
        g.principal = p
        return view(*a, **kw)
    return guarded


def admin_only(view):
    """The city office only (the admin token)."""
    @wraps(view)
    def guarded(*a, **kw):
        p = _authenticate()
        if not isinstance(p, Principal):
            return p
        if not p.is_city:
            return jsonify({"ok": False, "status": "error", "error": {
                "code": "forbidden", "message": "只有市定考办可以进行此操作"}}), 403
        g.principal = p
        return view(*a, **kw)
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
    return _logged_in(redirect(nxt, 303), ok)


@bp.post("/logout")
def logout():
    resp = redirect("/login", 303)
    resp.delete_cookie(COOKIE, path="/")
    return resp
