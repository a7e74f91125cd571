"""The offices' pages: status of the sites, pass marks, spreadsheets. The city sees every
site; a district office sees its own (``g.principal``); pass marks are set by the city."""
from __future__ import annotations

import time
from urllib.parse import quote

from flask import Blueprint, Response, abort, current_app, g, jsonify, render_template, request

from . import accounts, reports
from .admin import admin_only, csrf_field, login_required
from .api import err

bp = Blueprint("status", __name__, template_folder="templates")

EXPORTS = {"progress": ("考核进度统计", reports.progress_table),
           "results": ("考核结果统计", reports.results_table),
           "candidates": ("考核结果名单", reports.candidates_table),
           "makeup": ("补考名单", reports.makeup_table),
           "retakes": ("待重考名单", reports.retake_table)}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _store():
    return current_app.extensions["hall_store"]


def _sites_csv():
    return current_app.config["CENTRAL"].get("sites_csv")


def _marks_json():
    return jsonify({"ok": True, "pass_marks": [{"category": c, "level": l, "mark": m}
                                               for (c, l), m in sorted(_store().pass_marks().items())]})


@bp.get("/api/status")
@login_required
def status_json():
    return jsonify(reports.site_status(_store(), _sites_csv(), g.principal))


@bp.get("/api/pass-marks")
@login_required
def get_marks():
    return _marks_json()


@bp.post("/api/pass-marks")
@admin_only
def set_mark():
    body = request.get_json(silent=True)
    try:
        cat, level, mark = str(body["category"]), str(body["level"]), float(body["mark"])
    except (TypeError, KeyError, ValueError):
        return err(400, "bad_request", "需要 category, level, mark")
    store = _store()
    store.set_pass_mark(cat, level, mark)
    with store.tx() as c:
        accounts.record(c, store.clock(), g.principal.who, g.principal.office, "set_pass_mark", f"{cat}/{level}",
                        {"mark": mark})
    return _marks_json()


@bp.get("/export/<name>.<ext>")
@login_required
def export(name, ext):
    if name not in EXPORTS or ext not in ("csv", "xlsx"):
        abort(404)
    title, table = EXPORTS[name]
    header, rows = table(_store(), _sites_csv(), unit=request.args.get("unit") or None,
                         district=request.args.get("district") or None, principal=g.principal)
    if ext == "csv":
        data, mime = reports.to_csv(header, rows), "text/csv; charset=utf-8"
    else:
        data, mime = reports.to_xlsx(title, header, rows), XLSX
    return Response(data, mimetype=mime, headers={
        "Content-Disposition": f"attachment; filename=\"{name}.{ext}\"; filename*=UTF-8''{quote(f'{title}.{ext}')}"})


def _when(ts: float | None, fmt: str) -> str:
    return time.strftime(fmt, time.localtime(ts)) if ts else ""


@bp.get("/")
@login_required
def status_page():
    store = _store()
    st = reports.site_status(store, _sites_csv(), g.principal)
    marks = sorted(store.pass_marks().items())
    by_district: dict[str, list[str]] = {}
    for s in st["sites"]:
        if not s["bundles"]:
            by_district.setdefault(s["district"] or "?", []).append(s["site_no"])
    return render_template("central_status.html", st=st, t=st["totals"], marks=marks, me=g.principal,
                           not_synced=by_district, when=_when, csrf=csrf_field(),
                           marks_too_early=bool(marks) and bool(st["not_synced"]))


@bp.get("/notices/<ticket>.pdf")
@login_required
def notice_one(ticket):
    return _notice(reports.notice_rows(_store(), _sites_csv(), g.principal, ticket=ticket), ticket)


@bp.get("/notices/unit.pdf")
@login_required
def notice_unit():
    unit = request.args.get("unit")
    if not unit:
        return err(400, "unit_required", "请指定单位（?unit=单位名称），每位医师一页")
    rows = reports.notice_rows(_store(), _sites_csv(), g.principal, unit=unit,
                               district=request.args.get("district") or None)
    return _notice(rows, unit)


def _notice(rows, name: str):
    from .notices import notice_pdf
    if not rows:
        return err(404, "unknown_candidate", "没有可打印的考生（不在名单中或不属于本区县）")
    cfg = current_app.config["CENTRAL"]
    data = notice_pdf(rows, cfg["notice_issuer"], cfg["notice_cycle"])
    fname = f"考核结果通知书-{name}.pdf"
    return Response(data, mimetype="application/pdf", headers={
        "Content-Disposition": f"inline; filename=\"notice.pdf\"; filename*=UTF-8''{quote(fname)}"})


@bp.get("/api/actions")
@login_required
def actions_json():
    """The audit of people's actions: the city sees all, an office its own."""
    p = g.principal
    return jsonify({"ok": True, "actions": accounts.actions(_store(), None if p.is_city else p.office)})
