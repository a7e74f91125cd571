"""The staff console over HTTP: login, sitting list, the room page with its QR."""
from __future__ import annotations

import functools
import time

from flask import (Blueprint, Response, abort, current_app, redirect, render_template, request,
                   send_from_directory, session, url_for)

from ..auth.staff import address_allowed
from ..blocking import run_blocking
from . import assets, static_files

bp = Blueprint("console", __name__, url_prefix="/console", template_folder="templates")


def _svc():
    return current_app.extensions["hall.service"]


def _staff_dir():
    return current_app.extensions["hall.staff"]


def console_allowed() -> bool:
    """The laptop (security.staff_allowlist) or a paired tablet (auth/pairing.py)."""
    from ..auth.pairing import COOKIE

    if address_allowed(request.remote_addr, current_app.config["HALL"]["security"]["staff_allowlist"]):
        return True
    return current_app.extensions["hall.pairing"].allowed(request.cookies.get(COOKIE))


NOT_HERE = ("控制台只能在考点电脑上打开（security.staff_allowlist），"
            "或在已配对的平板上打开：平板请先打开 /console/pair 配对")


@bp.before_request
def only_allowed_addresses():
    if request.endpoint == "console.asset":
        return  # the console's CSS and JS: the pairing page needs them too
    if not console_allowed():
        abort(403, NOT_HERE)


@bp.context_processor
def exam_zone():
    """Every console page shows times in the exam's zone and says so; it warns when this
    laptop's own zone differs (its clock shows another hour than the phones and forms)."""
    from .. import zone

    name = current_app.extensions["hall.zone"]
    tz, now = zone.get(name), time.time()
    exam_off, laptop_off = zone.offset_minutes(tz, now), zone.laptop_offset_minutes(now)
    return {"zone": {"name": name, "offset": exam_off, "label": zone.label(name, tz, now),
                     "laptop": zone.utc_label(laptop_off), "mismatch": exam_off != laptop_off}}


@bp.context_processor
def alerts():
    """What every console page must show at once: a disk fault, a failing background task,
    a laptop clock that was changed (app.py Hall.current_alerts)."""
    return {"hall_alerts": current_app.extensions["hall.alerts"]()}


@bp.context_processor
def words():
    """The one table of Chinese labels (contracts/exam.py), for the pages and, as JSON in the
    sitting page, for console.js: the console words a status as the forms and the centre do."""
    from contracts.exam import for_page

    return {"labels": for_page()}


@bp.context_processor
def site_contacts():
    """The district office, the city office and the hotline on every page (issue 17 item 7)."""
    return {"contacts": current_app.extensions["hall.contacts"]}


def current_staff():
    return _staff_dir().get(session.get("staff"))


def staff_required(fn):
    @functools.wraps(fn)
    def wrapper(*a, **kw):
        if current_staff() is None:
            return redirect(url_for("console.login", next=request.path))
        return fn(*a, **kw)

    return wrapper


@bp.get("/static/<path:name>")
def asset(name: str):
    return static_files.send(assets.CONSOLE_DIR, name)


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    if request.method == "POST":
        staff = run_blocking(_staff_dir().authenticate, request.form.get("username", ""),
                             request.form.get("password", ""))
        if staff is not None:
            session.clear()
            session["staff"] = staff.username
            nxt = request.args.get("next", "")
            return redirect(nxt if nxt.startswith("/console") else url_for("console.home"))
        error = "用户名或密码不正确"
    return render_template("console_login.html", error=error, svc=_svc()), (401 if error else 200)


@bp.post("/logout")
def logout():
    session.clear()
    return redirect(url_for("console.login"))


@bp.get("/")
@staff_required
def home():
    svc, staff = _svc(), current_staff()
    sittings = [svc.sitting_view(sid) for sid in sorted(svc.sittings)
                if staff.may_view(svc.sittings[sid]["room_id"])]
    return render_template("console_home.html", staff=staff, sittings=sittings, svc=svc,
                           on_laptop=address_allowed(request.remote_addr,
                                                     current_app.config["HALL"]["security"]["staff_allowlist"]),
                           sync=sync_state() if staff.role == "chief" else None,
                           central_url=current_app.config["HALL"]["sync"]["central_url"],
                           syncing=request.args.get("syncing", type=float), exported=request.args.get("exported"),
                           doctor=_doctor() if staff.role == "chief" else None)


def _doctor() -> list[dict] | None:
    """考前自检 for the chief's home page, from a process of its own; kept for a minute."""
    import time

    from ..doctor import console_checks

    cached = current_app.extensions.get("hall.doctor")
    if cached and time.monotonic() - cached[0] < 60 and not request.args.get("recheck"):
        return cached[1]
    checks = console_checks(_cfg_object())
    current_app.extensions["hall.doctor"] = (time.monotonic(), checks)
    return checks


def _cfg_object():
    return current_app.extensions["hall.config"]


def _sitting_or_404(sitting_id: str, run: bool = False) -> dict:
    """The sitting if this staff member may see it (``run``: act on it)."""
    svc, staff = _svc(), current_staff()
    s = svc.sittings.get(sitting_id)
    if s is None:
        abort(404)
    if not staff.may_view(s["room_id"]):
        abort(403, "无权查看其他考场")
    if run and not staff.may_run(s["room_id"]):
        abort(403, "巡考账号只能查看考场、记录违纪和情况")
    return s


@bp.get("/sitting/<sitting_id>")
@staff_required
def sitting(sitting_id: str):
    _sitting_or_404(sitting_id)
    svc = _svc()
    rotate = current_app.config["HALL"]["security"]["qr_rotate_seconds"]
    site = current_app.config["HALL"]["site"]
    names = {sid: f"{svc.rooms[s['room_id']]['name']} 第{s['sitting_no']}场（{s['date']} {s['planned_start'][11:16]}）"
             for sid, s in svc.sittings.items()}
    others = [{"sitting_id": sid, "label": names[sid]} for sid in sorted(svc.sittings, key=lambda x: names[x])
              if sid != sitting_id and svc.sittings[sid]["status"] != "ended"]
    return render_template("console_sitting.html", staff=current_staff(), svc=svc,
                           other_sittings=others, sitting_names=names,
                           sitting=svc.sitting_view(sitting_id), qr_refresh_s=rotate or 60,
                           qr_url=current_app.extensions["hall.qr_url"](sitting_id),
                           wifi_ssid=site["wifi_ssid"], wifi_password=site["wifi_password"],
                           address=current_app.extensions["hall.base_url"],
                           room_code=None if current_app.config["HALL"]["security"]["qr_rotate_seconds"]
                           else current_app.extensions["hall.room_codes"][sitting_id])


@bp.get("/sitting/<sitting_id>/qr.png")
@staff_required
def sitting_qr(sitting_id: str):
    _sitting_or_404(sitting_id)
    from ..qr import qr_png

    url = current_app.extensions["hall.qr_url"](sitting_id)
    return Response(qr_png(url), mimetype="image/png", headers={"Cache-Control": "no-store"})


def _render(doc: str, db_path, sitting_id: str | None = None, url: str = "", wifi=("", ""),
            tickets=None, room_code: bool = True, zone_name: str = "") -> bytes:
    """Runs off the event loop (no Flask context there): opens its own read-only
    connection, which WAL lets read while the writer writes, and renders with reportlab,
    times in the exam's zone."""
    from .. import zone
    from ..printing.data import using_zone

    with using_zone(zone.get(zone_name or zone.DEFAULT)):
        return _render_doc(doc, db_path, sitting_id, url, wifi, tickets, room_code)


def _render_doc(doc, db_path, sitting_id, url, wifi, tickets, room_code) -> bytes:
    from .. import printing
    from ..db import schema

    conn = schema.connect(db_path, readonly=True)
    try:
        if doc == "sign-in":
            return printing.sign_in_sheet(conn, sitting_id)
        if doc == "room-record":
            return printing.room_record(conn, sitting_id)
        if doc == "poster":
            return printing.qr_poster(conn, sitting_id, url, *wifi, room_code=room_code)
        if doc == "answer-cards":
            return printing.answer_cards(conn, sitting_id, tickets)
        if doc == "booklet":
            return printing.question_booklet(conn, sitting_id, tickets)
        return printing.site_report(conn)
    finally:
        conn.close()


PRINTABLE = {"sign-in": "考生一览表", "room-record": "考场情况记录表", "poster": "考场二维码海报",
             "answer-cards": "答题卡", "booklet": "试题册"}


def _pdf(body: bytes, filename: str) -> Response:
    from urllib.parse import quote

    return Response(body, mimetype="application/pdf", headers={
        "Content-Disposition": f"inline; filename*=UTF-8''{quote(filename)}", "Cache-Control": "no-store"})


@bp.get("/sitting/<sitting_id>/print/<doc>.pdf")
@staff_required
def print_sitting(sitting_id: str, doc: str):
    s = _sitting_or_404(sitting_id, run=doc == "booklet")
    if doc not in PRINTABLE:
        abort(404)
    tickets = request.args.getlist("ticket") or None
    if doc == "booklet":
        _booklet_allowed(sitting_id, tickets)
    site = current_app.config["HALL"]["site"]
    body = run_blocking(_render, doc, current_app.extensions["hall.db_path"], sitting_id,
                        url=current_app.extensions["hall.qr_url"](sitting_id),
                        wifi=(site["wifi_ssid"], site["wifi_password"]),
                        tickets=tickets,
                        room_code=not current_app.config["HALL"]["security"]["qr_rotate_seconds"],
                        zone_name=current_app.extensions["hall.zone"])
    return _pdf(body, f"{PRINTABLE[doc]}-{_svc().rooms[s['room_id']]['name']}-第{s['sitting_no']}场.pdf")


def _booklet_allowed(sitting_id: str, tickets) -> None:
    """试题册 (the paper fallback's per-candidate paper): only once released, audited first."""
    from ..exam.errors import ExamError

    if not tickets:
        abort(400, "请选择要打印试题册的考生")
    try:
        _svc().print_booklets(sitting_id, tickets, current_staff().username)
    except ExamError as e:
        abort(409 if e.code in ("bad_state", "paper_sealed") else 400, e.message)


@bp.get("/print/site-report.pdf")
@staff_required
def print_site_report():
    if current_staff().role != "chief":
        abort(403, "考点报告仅限主考打印")
    return _pdf(run_blocking(_render, "site-report", current_app.extensions["hall.db_path"],
                             zone_name=current_app.extensions["hall.zone"]), "考点报告.pdf")


# -- printed guides (hall_server/printing/guides.py) -----------------------------------

def _render_guide(doc: str, db_path) -> bytes:
    from ..db import schema
    from ..printing.guides import GUIDES

    conn = schema.connect(db_path, readonly=True)
    try:
        return GUIDES[doc][1](conn)
    finally:
        conn.close()


@bp.get("/print/guide/<doc>.pdf")
@staff_required
def print_guide(doc: str):
    from ..printing.guides import CHIEF_ONLY, GUIDES

    if doc not in GUIDES:
        abort(404)
    if doc in CHIEF_ONLY and current_staff().role != "chief":
        abort(403, "主考检查清单仅限主考打印")
    return _pdf(run_blocking(_render_guide, doc, current_app.extensions["hall.db_path"]), f"{GUIDES[doc][0]}.pdf")


# -- results to the centre ------------------------------------------------------------

def _outbox():
    from pathlib import Path

    cfg = current_app.config["HALL"]
    return Path(current_app.extensions["hall.db_path"]).parent / cfg["sync"]["outbox"]


def _chief_only():
    if current_staff().role != "chief":
        abort(403, "成绩同步仅限主考操作")


@bp.post("/sync")
@staff_required
def sync_start():
    """Upload in a separate process: a slow or absent network never touches the exam loop."""
    import subprocess
    import sys

    from ..outbox import ensure_outbox

    _chief_only()
    _no_results_from_a_rehearsal()
    url = current_app.config["HALL"]["sync"]["central_url"]
    if not url:
        abort(409, "未配置市定考办地址（sync.central_url）。无网络时请使用“导出到U盘”。")
    outbox = run_blocking(ensure_outbox, _outbox())
    with open(outbox / "sync.log", "ab") as log:     # the child keeps its own copy of the descriptor
        cfg = _cfg_object()          # `hall sync` with this server's config and database
        subprocess.Popen([sys.executable, "-m", "hall_server", *(["--config", str(cfg.path)] if cfg.path else []),
                          "sync", "--db", str(current_app.extensions["hall.db_path"]), "--url", url],
                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    _audit_staff("sync_upload", {"url": url})
    # Refresh until a final state written after this moment (an older receipt is not the answer).
    return redirect(url_for("console.home", syncing=int(time.time())) + "#sync")


def _no_results_from_a_rehearsal() -> None:
    if _svc().meta.get("rehearsal") == "1":
        abort(409, "模拟演练的数据不计成绩，不能导出或上报成绩包。")


def _export(db_path, outbox):
    from ..outbox import export_bundle, record_export

    path, sha = export_bundle(db_path, outbox)
    record_export(path, sha)
    return path, sha


@bp.post("/export")
@staff_required
def export_results():
    """The USB fallback: write the signed result bundle into the outbox, then show its
    sha256 (for the hand-over form) and a link that downloads it under its own name."""
    _chief_only()
    _no_results_from_a_rehearsal()
    path, sha = run_blocking(_export, current_app.extensions["hall.db_path"], _outbox())
    _audit_staff("export_results", {"sha256": sha, "file": path.name})
    return redirect(url_for("console.home", exported=path.name) + "#sync")


@bp.get("/outbox/<name>")
@staff_required
def outbox_file(name: str):
    """Download an exported bundle (as a file, under its bundle name)."""
    from contracts.result_bundle import BUNDLE_SUFFIX

    _chief_only()
    if not name.endswith(BUNDLE_SUFFIX):
        abort(404)
    resp = send_from_directory(_outbox(), name, as_attachment=True, download_name=name,
                               mimetype="application/octet-stream", max_age=0)
    return resp


def sync_state() -> dict | None:
    from ..outbox import last_state

    try:
        return last_state(_outbox())
    except OSError:
        return None


def _audit_staff(action: str, data: dict) -> None:
    _svc().audit_staff(current_staff().username, action, data)


@bp.errorhandler(Exception)
def console_error(err):
    """Every console error as a Chinese page (never Flask's English one); the cause goes to
    the log, not the screen."""
    from werkzeug.exceptions import HTTPException

    if isinstance(err, HTTPException):
        code, text = err.code or 500, err.description if _is_chinese(err.description) else ""
    else:
        import logging

        logging.getLogger(__name__).exception("console error on %s", request.path)
        code, text = 500, ""
    title = ERROR_TITLES.get(code, "出错了")
    return render_template("console_error.html", staff=_staff_or_none(), svc=_svc(), code=code, title=title,
                           text=text), code


ERROR_TITLES = {400: "请求有误", 403: "无权操作", 404: "找不到这个页面", 405: "不支持的操作", 409: "暂时不能这样操作",
                413: "内容太大", 429: "操作太频繁", 500: "系统内部错误"}


def _is_chinese(text) -> bool:
    return isinstance(text, str) and any("\u4e00" <= ch <= "\u9fff" for ch in text)


def _staff_or_none():
    try:
        return current_staff()
    except Exception:
        return None
