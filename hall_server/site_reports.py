"""Same-day anomaly reports, the hall's side: read a recorded violation or incident and
send it to the centre signed with the site key (format: contracts/site_report.py).
"""
from __future__ import annotations

import sqlite3
from pathlib import Path

from contracts.site_report import KINDS, sign_report


def read_record(db_path: str | Path, kind: str, row_id: int) -> tuple[str, str, dict]:
    """(site_no, private key, record) from the hall's database (read-only)."""
    conn = sqlite3.connect(f"file:{Path(db_path)}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        table = {"violation": "violations", "incident": "incidents"}[kind]
        row = conn.execute(f"SELECT {', '.join(KINDS[kind])} FROM {table} WHERE id = ?", (row_id,)).fetchone()
    finally:
        conn.close()
    if row is None:
        raise KeyError(f"{kind} {row_id}")
    return meta.get("site_no", ""), meta["site_key_private"], dict(row)


def push(db_path: str | Path, url: str, kind: str, row_id: int, timeout: float = 5.0) -> dict:
    """Send one report (the hall calls this after recording a violation or incident, off
    the event loop, when a centre URL is configured). Returns the centre's JSON answer;
    raises requests' errors when the centre cannot be reached (the bundle will carry it)."""
    import requests
    site_no, priv, record = read_record(db_path, kind, row_id)
    r = requests.post(url.rstrip("/") + "/api/reports", json=sign_report(priv, site_no, kind, record),
                      timeout=timeout)
    return {"status_code": r.status_code, **(r.json() if r.headers.get("Content-Type", "").startswith(
        "application/json") else {})}
