"""Central ingest service: the Flask application factory (protocol: docs/sync.md).

``create_app(config)`` -> Flask app with its blueprints: ``api`` (uploads and same-day
reports, open to sites: signatures authenticate them), ``admin`` (login/logout; the city's
管理口令 and the district offices' tokens), ``status`` (status page, pass marks, exports),
``review`` (violation review chain, deferrals), ``notices`` (考核结果通知书 PDFs).
Settings and defaults: ``settings.py``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask

from ..result_bundle import MAX_BUNDLE_BYTES
from . import admin, api, photo_review, review, status
from .settings import resolve
from .store import Store, load_answer_keys, load_site_registry
from .uploads import UploadLimits


def open_store(cfg: dict[str, Any]) -> Store:
    """The Store for resolved settings (site keys and issued plan ids from site_keys)."""
    site_keys, plan_ids = cfg.get("site_keys") or {}, {}
    if isinstance(site_keys, (str, Path)):
        registry = load_site_registry(site_keys)
        site_keys = {k: v["public"] for k, v in registry.items()}
        plan_ids = {k: v["bundle_id"] for k, v in registry.items()}
    return Store(cfg["db"], site_keys=site_keys, centre_key_b64=cfg.get("centre_key"), plan_ids=plan_ids,
                 spool_dir=cfg.get("spool_dir"), upload_limits=UploadLimits(idle_s=60 * cfg["upload_idle_minutes"]))


def load_inputs(store: Store, cfg: dict[str, Any]) -> None:
    """The roster and the answer keys into the database (then everything is re-scored)."""
    if cfg.get("roster"):
        store.load_roster_csv(cfg["roster"])
    ak = cfg.get("answer_keys")
    if ak:
        store.load_answer_keys(load_answer_keys(ak) if isinstance(ak, (str, Path)) else
                               {t: (v if isinstance(v, dict) else {"key": v}) for t, v in ak.items()})


def create_app(config: dict[str, Any]) -> Flask:
    cfg = resolve(config)
    app = Flask("sync.central")
    app.config["CENTRAL"] = cfg
    app.config["MAX_CONTENT_LENGTH"] = MAX_BUNDLE_BYTES + 1024
    store = open_store(cfg)
    store.sites_csv = cfg.get("sites_csv")
    if cfg["load_inputs"]:
        load_inputs(store, cfg)
    app.extensions["hall_store"] = store
    app.extensions["central_admin"] = admin.AdminAuth(store, cfg.get("admin_token"))
    app.register_blueprint(api.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(status.bp)
    app.register_blueprint(review.bp)
    app.register_blueprint(photo_review.bp)
    return app
