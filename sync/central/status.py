"""The city office's pages (admin token): status of all sites, pass marks, spreadsheets."""
from __future__ import annotations

import time
from urllib.parse import quote

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request

from . import reports
from .admin import admin_only
from .api import err

bp = Blueprint("status", __name__, template_folder="templates")

EXPORTS = {"progress": ("考核进度统计", reports.progress_table),
           "results": ("考核结果统计", reports.results_table),
           "candidates": ("考核结果名单", reports.candidates_table)}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _store():
    return current_app.extensions["hall_store"]


def _sites_csv():
    return current_app.config["CENTRAL"].get("sites_csv")


def _marks_json():
    return jsonify({"ok": True, "pass_marks": [{"category": c, "level": l, "mark": m}
                                               for (c, l), m in sorted(_store().pass_marks().items())]})


@bp.get("/api/status")
@admin_only
def status_json():
    return jsonify(reports.site_status(_store(), _sites_csv()))


@bp.get("/api/pass-marks")
@admin_only
def get_marks():
    return _marks_json()


@bp.post("/api/pass-marks")
@admin_only
def set_mark():
    body = request.get_json(silent=True)
    try:
        _store().set_pass_mark(str(body["category"]), str(body["level"]), float(body["mark"]))
    except (TypeError, KeyError, ValueError):
        return err(400, "bad_request", "需要 category, level, mark")
    return _marks_json()


@bp.get("/export/<name>.<ext>")
@admin_only
def export(name, ext):
    if name not in EXPORTS or ext not in ("csv", "xlsx"):
        abort(404)
    title, table = EXPORTS[name]
    header, rows = table(_store(), _sites_csv(), unit=request.args.get("unit") or None,
                         district=request.args.get("district") or None)
    if ext == "csv":
        data, mime = reports.to_csv(header, rows), "text/csv; charset=utf-8"
    else:
        data, mime = reports.to_xlsx(title, header, rows), XLSX
    return Response(data, mimetype=mime, headers={
        "Content-Disposition": f"attachment; filename=\"{name}.{ext}\"; filename*=UTF-8''{quote(f'{title}.{ext}')}"})


def _when(ts: float | None, fmt: str) -> str:
    return time.strftime(fmt, time.localtime(ts)) if ts else ""


@bp.get("/")
@admin_only
def status_page():
    store = _store()
    st = reports.site_status(store, _sites_csv())
    marks = sorted(store.pass_marks().items())
    by_district: dict[str, list[str]] = {}
    for s in st["sites"]:
        if not s["bundles"]:
            by_district.setdefault(s["district"] or "?", []).append(s["site_no"])
    return render_template("central_status.html", st=st, t=st["totals"], marks=marks,
                           not_synced=by_district, when=_when,
                           marks_too_early=bool(marks) and bool(st["not_synced"]))
