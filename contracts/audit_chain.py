"""The audit chain: the ONE definition of how `audit_log` rows are hash-chained.

Both the hall (which writes the chain) and the centre (which verifies it inside a result
bundle) import this module; nothing else may compute an audit hash.

Rule (stable; changing it breaks every hall in the field):

    hash = sha256_hex( canonical_json([prev_hash, id, ts, actor, action,
                                       sitting_id, ticket, data]) )

    canonical_json(x) = json.dumps(x, ensure_ascii=False, separators=(",", ":"),
                                   sort_keys=True).encode("utf-8")

* ``prev_hash`` of the first entry is ``GENESIS = "0" * 64``; every later entry's
  ``prev_hash`` is the previous entry's ``hash`` (entries ordered by ``id``).
* ``id`` is hashed as an int, ``ts`` as a float (``float(ts)``: an int 1700000000 and the
  REAL 1700000000.0 that SQLite gives back hash the same), ``sitting_id``/``ticket`` as a
  string or null.
* ``data`` is hashed as the JSON *text* stored in the column, byte for byte. If a caller
  passes a dict/list instead, it is first serialized with ``canonical_json`` (so a writer
  should store ``canonical_text(obj)`` and hash the same thing).
"""
from __future__ import annotations

import hashlib
import json
from typing import Any, Iterable, Mapping

GENESIS = "0" * 64
FIELDS = ("id", "ts", "actor", "action", "sitting_id", "ticket", "data")


def canonical_text(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def canonical_json(obj: Any) -> bytes:
    return canonical_text(obj).encode("utf-8")


def _get(row: Any, key: str) -> Any:
    if isinstance(row, Mapping):
        return row.get(key)
    try:  # sqlite3.Row
        return row[key]
    except (IndexError, KeyError):
        return None


def _opt_str(v: Any) -> str | None:
    return None if v is None else str(v)


def entry_hash(prev_hash: str, row: Any) -> str:
    """sha256 hex of one audit entry; ``row`` is a dict or sqlite3.Row with the FIELDS
    (its own ``prev_hash``/``hash`` columns, if present, are ignored)."""
    data = _get(row, "data")
    if data is None:
        data = "{}"
    elif not isinstance(data, str):
        data = canonical_text(data)
    payload = [
        str(prev_hash),
        int(_get(row, "id")),
        float(_get(row, "ts")),
        str(_get(row, "actor")),
        str(_get(row, "action")),
        _opt_str(_get(row, "sitting_id")),
        _opt_str(_get(row, "ticket")),
        data,
    ]
    return hashlib.sha256(canonical_json(payload)).hexdigest()


def verify_chain(rows: Iterable[Any]) -> tuple[bool, int | None]:
    """Check an audit log in id order. Returns ``(True, None)`` or ``(False, id)`` of the
    first entry whose prev_hash link or own hash is wrong (or whose id does not increase).
    An empty log is valid."""
    prev = GENESIS
    last_id: int | None = None
    for row in rows:
        rid = int(_get(row, "id"))
        if last_id is not None and rid <= last_id:
            return False, rid
        if _get(row, "prev_hash") != prev:
            return False, rid
        h = entry_hash(prev, row)
        if _get(row, "hash") != h:
            return False, rid
        prev, last_id = h, rid
    return True, None


def append_entry(conn, *, ts: float, actor: str, action: str, sitting_id: str | None = None,
                 ticket: str | None = None, data: Any = None) -> tuple[int, str]:
    """Reference writer (used by tests and tools): append one entry to ``audit_log`` on a
    sqlite3 connection, inside the caller's transaction. Returns (id, hash)."""
    text = data if isinstance(data, str) else canonical_text({} if data is None else data)
    r = conn.execute("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()
    prev, rid = (GENESIS, 1) if r is None else (r[1], int(r[0]) + 1)
    row = {"id": rid, "ts": float(ts), "actor": actor, "action": action,
           "sitting_id": sitting_id, "ticket": ticket, "data": text}
    h = entry_hash(prev, row)
    conn.execute(
        "INSERT INTO audit_log(id, ts, actor, action, sitting_id, ticket, data, prev_hash, hash)"
        " VALUES (?,?,?,?,?,?,?,?,?)",
        (rid, float(ts), actor, action, sitting_id, ticket, text, prev, h))
    return rid, h
