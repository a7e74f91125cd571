"""Appending to the hash-chained audit log, inside the writer's transaction.

The hash rule itself lives in contracts.audit_chain so that the hall and the centre can never
disagree on it. Entries are written only by the single writer, so the chain is linear.
"""
from __future__ import annotations

import json
import sqlite3

from contracts.audit_chain import GENESIS, entry_hash, verify_chain


def append(conn: sqlite3.Connection, ts: float, actor: str, action: str,
           sitting_id: str | None = None, ticket: str | None = None, data: dict | None = None) -> None:
    last = conn.execute("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()
    prev_id, prev_hash = (last[0], last[1]) if last else (0, GENESIS)
    row = {
        "id": prev_id + 1,
        "ts": ts,
        "actor": actor,
        "action": action,
        "sitting_id": sitting_id,
        "ticket": ticket,
        "data": json.dumps(data or {}, ensure_ascii=False, separators=(",", ":"), sort_keys=True),
    }
    h = entry_hash(prev_hash, row)
    conn.execute(
        "INSERT INTO audit_log (id, ts, actor, action, sitting_id, ticket, data, prev_hash, hash)"
        " VALUES (:id, :ts, :actor, :action, :sitting_id, :ticket, :data, :prev_hash, :hash)",
        {**row, "prev_hash": prev_hash, "hash": h},
    )


def verify_file(db_path) -> tuple[bool, int | None, int]:
    """`hall audit verify`: (chain intact, first bad id or None, entries) of a database."""
    from ..db import schema

    conn = schema.connect(db_path, readonly=True)
    try:
        rows = [dict(r) for r in conn.execute("SELECT * FROM audit_log ORDER BY id")]
    finally:
        conn.close()
    ok, bad = verify_chain(rows)
    return ok, bad, len(rows)
