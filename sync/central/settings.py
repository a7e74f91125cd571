"""The centre's settings: every key with its default, in one place (``create_app(config)``
and ``python -m sync.central serve`` both start from these).

  db            the centre's database (required): a SQLite file path, or a PostgreSQL URL
                postgresql://user:password@host:5432/dbname (a province or the country)
  spool_dir     where partial uploads wait (default: <db>.spool beside a SQLite file;
                var/central-spool/<host_port_db> under the working directory for PostgreSQL)
  site_keys     {site_no: public_b64} or a path to site_keys.json (required)
  answer_keys   optional {ticket: [...]} or a path (JSON file, provisioning centre/papers/*.json or that folder)
  roster        optional path to roster CSV (ticket, site_no, name, id_number, category, level, unit, department)
  sites_csv     path of sites.csv (default: the 343 sites hall ships, contracts/data/sites.csv)
  centre_key    optional base64 Ed25519 private key for receipts (else generated once, kept in the DB)
  admin_token   the admin token (管理口令). Unset: generated at the first start, only its hash kept
                in the DB, shown once (app.extensions["central_admin"].new_token; `serve` prints it).
  max_chunk     largest accepted chunk in bytes
  upload_idle_minutes  an open upload that received no bytes for this long is dropped when
                room is needed
  load_inputs   load ``roster`` and ``answer_keys`` into the database at start (``serve`` does
                it once before starting its workers, which then skip it)
  notice_issuer who signs the 考核结果通知书 (the city's assessment office)
  notice_cycle  the cycle named on the notice
  fault_hook    tests only: callable(stage, **info) called at defined points
"""
from __future__ import annotations

from typing import Any

DEFAULTS: dict[str, Any] = {
    "db": None,
    "spool_dir": None,
    "site_keys": None,
    "answer_keys": None,
    "roster": None,
    "sites_csv": None,
    "centre_key": None,
    "admin_token": None,
    "max_chunk": 8 * 1024 * 1024,
    "upload_idle_minutes": 30,
    "load_inputs": True,
    # Seeds 000_…: the city's committee office sets the pass mark and issues the results.
    "notice_issuer": "重庆市卫生健康委员会医师定期考核管理委员会办公室",
    "notice_cycle": "重庆市第5周期",
    "fault_hook": None,
}


def resolve(config: dict[str, Any]) -> dict[str, Any]:
    """DEFAULTS overlaid with the given keys (None means: the default)."""
    unknown = set(config) - set(DEFAULTS)
    if unknown:
        raise KeyError(f"unknown centre setting(s): {', '.join(sorted(unknown))}")
    out = dict(DEFAULTS)
    out.update({k: v for k, v in config.items() if v is not None})
    if not out["db"]:
        raise KeyError("the centre needs a database (db)")
    out["max_chunk"] = int(out["max_chunk"])
    out["upload_idle_minutes"] = float(out["upload_idle_minutes"])
    return out
