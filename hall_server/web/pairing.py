"""Pairing a tablet with the console (auth/pairing.py).

- ``GET/POST /console/pair``: on the tablet, from any address: the code shown on the laptop
  plus a staff login; on success the tablet gets its device cookie and is logged in.
- ``GET /console/devices``, ``POST /console/devices/code``, ``POST /console/devices/<id>/revoke``:
  the chief, on the laptop only (an allowlisted address, not a paired tablet): issue a code,
  see the paired tablets, revoke one.
"""
from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, render_template, request, session, url_for

from ..auth.pairing import COOKIE, cookie_max_age
from ..auth.staff import address_allowed
from ..blocking import run_blocking

bp = Blueprint("pairing", __name__, url_prefix="/console", template_folder="templates")
MAX_LABEL = 40


def _console_page_context():
    """The console's pages all show the zone, alerts, labels and contacts: so do these."""
    from . import console

    for fn in (console.exam_zone, console.alerts, console.words, console.site_contacts):
        bp.context_processor(fn)


_console_page_context()


def _pairing():
    return current_app.extensions["hall.pairing"]


def _svc():
    return current_app.extensions["hall.service"]


def _on_laptop() -> bool:
    return address_allowed(request.remote_addr, current_app.config["HALL"]["security"]["staff_allowlist"])


def _page(template: str, status: int = 200, **kw):
    from .console import current_staff

    return render_template(template, staff=current_staff(), svc=_svc(), **kw), status


@bp.route("/pair", methods=["GET", "POST"])
def pair():
    error = None
    if request.method == "POST":
        limiter = current_app.extensions["hall.code_limiter"]
        key = limiter.address_key(request.remote_addr or "")
        wait = limiter.retry_after(key)
        f = request.form
        label = (f.get("label") or "").strip()[:MAX_LABEL]
        if wait > 0:
            error = f"尝试次数过多，请 {int(wait) + 1} 秒后再试"
        elif not _pairing().take_code(f.get("code")):
            limiter.failed(key)
            error = "配对码不正确或已过期：请在考点电脑上重新生成配对码"
        else:
            staff = run_blocking(current_app.extensions["hall.staff"].authenticate, f.get("username", ""),
                                 f.get("password", ""))
            if staff is None:
                limiter.failed(key)
                error = "用户名或密码不正确；配对码已作废，请在考点电脑上重新生成"
            else:
                token = _pairing().pair(staff.username, label or f"{staff.display_name}的平板",
                                        request.remote_addr or "")
                session.clear()
                session["staff"] = staff.username
                resp = redirect(url_for("console.home"))
                resp.set_cookie(COOKIE, token, max_age=cookie_max_age(
                    current_app.config["HALL"]["security"]["paired_device_days"]), httponly=True,
                    samesite="Strict", path="/")
                return resp
    return _page("console_pair.html", 401 if error else 200, error=error,
                 paired=_pairing().allowed(request.cookies.get(COOKIE)))


def _chief_on_laptop():
    from .console import current_staff

    staff = current_staff()
    if staff is None:
        return redirect(url_for("console.login", next=request.path))
    if not _on_laptop():
        abort(403, "平板配对只能在考点电脑上操作")
    if staff.role != "chief":
        abort(403, "平板配对仅限主考操作")
    return None


@bp.get("/devices")
def devices():
    stop = _chief_on_laptop()
    if stop is not None:
        return stop
    return _devices_page()


def _devices_page(code: str | None = None):
    p = _pairing()
    return _page("console_devices.html", devices=sorted(p.devices.values(), key=lambda d: -d["paired_at"]),
                 code=code, minutes=max(1, round(p.code_seconds / 60)),
                 pair_url=current_app.extensions["hall.base_url"] + "/console/pair")


@bp.post("/devices/code")
def new_code():
    from .console import current_staff

    stop = _chief_on_laptop()
    if stop is not None:
        return stop
    code, _ = _pairing().new_code(current_staff().username)
    return _devices_page(code)   # shown once, on this page only


@bp.post("/devices/<int:device_id>/revoke")
def revoke(device_id: int):
    from .console import current_staff

    stop = _chief_on_laptop()
    if stop is not None:
        return stop
    if _pairing().revoke(device_id, current_staff().username) is None:
        abort(404)
    return redirect(url_for("pairing.devices"))


@bp.errorhandler(Exception)
def pairing_error(err):
    from .console import console_error

    return console_error(err)
