"""The photo review page and API (rules in photos.py): per district or site, the lowest
similarity first, thumbnails and flags, and the manual's four rules as the choices."""
from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify, redirect, render_template, request

from . import photos
from .admin import csrf_field, login_required
from .api import err

bp = Blueprint("photo_review", __name__, template_folder="templates")


def _store():
    return current_app.extensions["hall_store"]


def _filters() -> dict:
    try:
        below = float(request.args["below"]) if request.args.get("below") else None
    except ValueError:
        below = None
    return {"site": request.args.get("site") or None, "max_similarity": below,
            "flagged": request.args.get("flagged") == "1"}


@bp.get("/api/photos")
@login_required
def photos_json():
    return jsonify({"ok": True, "candidates": photos.listing(_store(), g.principal, **_filters())})


@bp.get("/photos")
@login_required
def photos_page():
    f = _filters()
    rows = photos.listing(_store(), g.principal, **f)
    d = request.args.get("district")
    if d:
        rows = [r for r in rows if r["district"] == d]
    return render_template("central_photos.html", me=g.principal, csrf=csrf_field(), rows=rows, RULES=photos.RULES,
                           f=f, district=d or "", threshold=current_app.config.get("PHOTO_THRESHOLD"))


@bp.post("/api/photos/<site>/<ticket>")
@login_required
def photo_decide(site: str, ticket: str):
    body = request.get_json(silent=True) if request.is_json else request.form.to_dict()
    body = body if isinstance(body, dict) else {}
    try:
        out = photos.decide(_store(), g.principal, site, ticket, body.get("rule"), body.get("note", ""))
    except photos.PhotoError as e:
        if request.is_json:
            return err(e.status, e.code, e.message)
        return render_template("central_message.html", me=g.principal, message=e.message, back="/photos"), e.status
    if request.is_json:
        return jsonify({"ok": True, **out})
    return redirect(request.form.get("back") or "/photos", 303)
