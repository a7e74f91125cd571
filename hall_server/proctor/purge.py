"""`hall purge-photos`: photos are personal data. A photo file leaves the laptop once the
centre has confirmed a result bundle that carries it (an `accepted` upload state in the
outbox, next to that bundle) and `proctor.purge_after_days` have passed since; the rows
stay (times, verdicts) with `purged_at` set, and the purge is in the audit chain.
Roster photos (证件照) go too, once every capture of their candidate is gone.
Runs with the server stopped: the server's memory must not disagree with the database."""
from __future__ import annotations

import json
import socket
import time
from pathlib import Path

from . import photos


def confirmed_captures(outbox: Path) -> dict[str, float]:
    """capture id -> when the centre accepted the first bundle that carried it."""
    out: dict[str, float] = {}
    for st_file in sorted(Path(outbox).glob("*.sync.json")):
        try:
            st = json.loads(st_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if st.get("state") != "accepted":
            continue
        bundle = st_file.with_name(st_file.name[: -len(".sync.json")])
        try:
            payload = json.loads(bundle.read_bytes())["payload"]
        except (OSError, ValueError, KeyError):
            continue
        at = float(st.get("at") or bundle.stat().st_mtime)
        for cand in (payload.get("proctoring") or {}).get("candidates", []):
            for cap in cand.get("captures", []):
                out[cap["id"]] = min(out.get(cap["id"], at), at)
    return out


def server_running(cfg) -> bool:
    port = cfg["server"]["port"]
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def purge(cfg, now: float | None = None, days: float | None = None, dry_run: bool = False) -> dict:
    from ..db import schema
    from . import ops as pops

    now = time.time() if now is None else now
    days = cfg["proctor"]["purge_after_days"] if days is None else days
    root = cfg.data_dir / cfg["proctor"]["photo_dir"]
    ok = confirmed_captures(cfg.data_dir / cfg["sync"]["outbox"])
    conn = schema.connect(cfg.db_path)
    try:
        conn.execute("BEGIN IMMEDIATE")
        rows = conn.execute("SELECT capture_id, ticket, sha256 FROM captures WHERE status = 'ok' AND purged_at IS NULL"
                            ).fetchall()
        due = [r for r in rows if r["capture_id"] in ok and ok[r["capture_id"]] + days * 86400 <= now]
        due_ids = {r["capture_id"] for r in due}
        kept = len(rows) - len(due)
        shas = sorted({r["sha256"] for r in due})
        still = {r["sha256"] for r in rows if r["capture_id"] not in due_ids}   # a file a kept capture needs
        doomed = [s for s in shas if s not in still]
        left = {r["ticket"] for r in rows if r["capture_id"] not in due_ids}
        roster = [r[0] for r in conn.execute("SELECT ticket FROM roster_photos")
                  if r[0] in {d["ticket"] for d in due} and r[0] not in left]
        if dry_run or not due:
            conn.execute("ROLLBACK")
            if not due:
                return {"files": 0, "captures": 0, "kept": kept, "roster": 0}
            return {"files": len(doomed), "captures": len(due), "kept": kept, "roster": len(roster), "dry_run": True}
        pops.mark_purged(conn, sorted(due_ids), now)
        roster_shas = [conn.execute("SELECT sha256 FROM roster_photos WHERE ticket = ?", (t,)).fetchone()[0] for t in roster]
        conn.executemany("DELETE FROM roster_photos WHERE ticket = ?", [(t,) for t in roster])
        conn.execute("COMMIT")  # recorded first: a crash leaves files to delete again, never rows claiming files
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        conn.close()
    for sha in doomed + roster_shas:
        photos.path_for(root, sha).unlink(missing_ok=True)
    return {"files": len(doomed) + len(roster_shas), "captures": len(due), "kept": kept, "roster": len(roster)}
