"""Violation review (复核, 核准) and deferrals (延期考核), as pages for the offices' browsers
and as JSON for scripts. The rules live in ``cases.py`` and ``deferrals.py``."""
from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify, redirect, render_template, request

from . import cases, deferrals
from .admin import csrf_field, login_required
from .api import err
from .cases import CaseError
from .outcomes import CASE_STATE_ZH, DEFERRAL_STATE_ZH, LEVEL_ZH, REVIEWED_LEVELS
from .reports import district_of_site

bp = Blueprint("review", __name__, template_folder="templates")


def _store():
    return current_app.extensions["hall_store"]


def _body() -> dict:
    """JSON (scripts, Bearer) or a form (the pages, cookie + csrf)."""
    if request.is_json:
        body = request.get_json(silent=True)
        return body if isinstance(body, dict) else {}
    return request.form.to_dict()


def _answer(fn, back: str):
    try:
        out = fn(_body())
    except CaseError as e:
        if request.is_json:
            return err(e.status, e.code, e.message)
        return render_template("central_message.html", me=g.principal, message=e.message, back=back), e.status
    if request.is_json:
        return jsonify({"ok": True, **out})
    return redirect(back, 303)


def _page(template: str, **kw):
    return render_template(template, me=g.principal, csrf=csrf_field(), LEVEL_ZH=LEVEL_ZH,
                           CASE_STATE_ZH=CASE_STATE_ZH, DEFERRAL_STATE_ZH=DEFERRAL_STATE_ZH,
                           LEVELS=REVIEWED_LEVELS, **kw)


@bp.get("/api/cases")
@login_required
def cases_json():
    return jsonify({"ok": True, "cases": cases.listing(_store(), g.principal, request.args.get("state") or None)})


@bp.get("/cases")
@login_required
def cases_page():
    store = _store()
    rows = cases.listing(store, g.principal, request.args.get("state") or None)
    d = request.args.get("district")
    if d:
        rows = [c for c in rows if district_of_site(store, c["site_no"]) == d]
    return _page("central_cases.html", cases=rows, district_of=lambda s: district_of_site(store, s))


@bp.get("/cases/<case_id>")
@login_required
def case_page(case_id):
    store = _store()
    case = cases.get(store, case_id)
    if case is None or not g.principal.sees(district_of_site(store, case["site_no"])):
        return err(404, "unknown_case", "没有这个违纪记录")
    return _page("central_case.html", case=case, district=district_of_site(store, case["site_no"]))


@bp.get("/api/cases/<case_id>")
@login_required
def case_json(case_id):
    store = _store()
    case = cases.get(store, case_id)
    if case is None or not g.principal.sees(district_of_site(store, case["site_no"])):
        return err(404, "unknown_case", "没有这个违纪记录")
    return jsonify({"ok": True, "case": case})


@bp.post("/api/cases/<case_id>/review")
@login_required
def case_review(case_id):
    return _answer(lambda b: {"case": cases.review(_store(), g.principal, case_id, b.get("level"), b.get("note"),
                                                   b.get("reason"))}, f"/cases/{case_id}")


@bp.post("/api/cases/<case_id>/approve")
@login_required
def case_approve(case_id):
    return _answer(lambda b: {"case": cases.approve(_store(), g.principal, case_id, b.get("level"), b.get("note"),
                                                    b.get("reason"))}, f"/cases/{case_id}")


@bp.get("/api/reports")
@login_required
def reports_json():
    """Same-day reports from the account's sites; ``in_bundle`` once a bundle confirmed them."""
    return jsonify({"ok": True, "reports": cases.reports_listing(_store(), g.principal)})


@bp.get("/deferrals")
@login_required
def deferrals_page():
    return _page("central_deferrals.html", rows=deferrals.listing(_store(), g.principal))


@bp.get("/api/deferrals")
@login_required
def deferrals_json():
    return jsonify({"ok": True, "deferrals": deferrals.listing(_store(), g.principal)})


@bp.post("/api/deferrals")
@login_required
def deferral_request():
    return _answer(lambda b: {"deferral": deferrals.request(_store(), g.principal, b.get("ticket"), b.get("reason"))},
                   "/deferrals")


@bp.post("/api/deferrals/<ticket>/decide")
@login_required
def deferral_decide(ticket):
    def go(b):
        approve = b.get("approve")
        if isinstance(approve, str):            # a form: the button pressed
            approve = {"1": True, "0": False}.get(approve, approve)
        return {"deferral": deferrals.decide(_store(), g.principal, ticket, approve, b.get("note"))}
    return _answer(go, "/deferrals")
