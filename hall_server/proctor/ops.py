"""Writer operations of camera proctoring. Each decides inside the transaction and returns
a `Changes` whose rows were read back after the change (the mirror rule)."""
from __future__ import annotations

from ..exam import audit
from ..exam.changes import Changes
from ..exam.errors import ExamError
from ..exam.ops import attempt_row


def capture_row(conn, capture_id: str) -> dict | None:
    row = conn.execute("SELECT * FROM captures WHERE capture_id = ?", (capture_id,)).fetchone()
    return dict(row) if row else None


def store_capture(conn, ticket: str, capture_id: str, slot: int, source: str, sha256: str, size: int,
                  width: int, height: int, taken_at: float | None, now: float, max_per_candidate: int) -> Changes:
    """Record a delivered photo (its file is already durable). Idempotent by capture id:
    the same id with the same photo returns the stored row; any other reuse is refused."""
    old = capture_row(conn, capture_id)
    if old is not None:
        if old["ticket"] != ticket or old["sha256"] != sha256:
            raise ExamError("capture_conflict")
        return Changes(captures=[old], result="already_stored")
    a = attempt_row(conn, ticket)
    if a is None or a["status"] == "absent":
        raise ExamError("not_logged_in")
    n = conn.execute("SELECT COUNT(*) FROM captures WHERE ticket = ? AND status = 'ok'", (ticket,)).fetchone()[0]
    if n >= max_per_candidate:
        raise ExamError("capture_limit")
    conn.execute("INSERT INTO captures (capture_id, ticket, slot, source, status, sha256, bytes, width, height,"
                 " taken_at, received_at) VALUES (?, ?, ?, ?, 'ok', ?, ?, ?, ?, ?, ?)",
                 (capture_id, ticket, slot, source, sha256, size, width, height, taken_at, now))
    audit.append(conn, now, f"candidate:{ticket}", "capture", a["sitting_id"], ticket,
                 {"capture_id": capture_id, "slot": slot, "sha256": sha256, "bytes": size})
    return Changes(captures=[capture_row(conn, capture_id)], result="stored")


def record_failure(conn, ticket: str, slot: int, status: str, reason: str, at: float, now: float,
                   actor: str) -> Changes:
    """抓拍失败: a prompt that got no photo (missed: the grace ran out; refused: the phone
    said it could not). One per (ticket, slot); a later photo for the slot is stored beside it."""
    capture_id = f"{status}:{ticket}:{slot}"
    old = capture_row(conn, capture_id)
    if old is not None:
        return Changes(captures=[old])
    a = attempt_row(conn, ticket)
    if a is None:
        raise ExamError("not_logged_in")
    conn.execute("INSERT INTO captures (capture_id, ticket, slot, source, status, received_at, taken_at, reason)"
                 " VALUES (?, ?, ?, 'server', ?, ?, ?, ?)", (capture_id, ticket, slot, status, now, at, reason))
    audit.append(conn, now, actor, "capture_failed", a["sitting_id"], ticket,
                 {"slot": slot, "status": status, "reason": reason, "prompt_at": at})
    return Changes(captures=[capture_row(conn, capture_id)])


def record_missed(conn, missed: list[tuple[str, int, float]], now: float) -> Changes:
    """The sweep: every (ticket, slot, prompt time) whose grace ran out with no photo, in
    one transaction; a slot that got a photo meanwhile (same batch) is left alone."""
    ch = Changes()
    for ticket, slot, at in missed:
        got = conn.execute("SELECT 1 FROM captures WHERE ticket = ? AND slot = ? LIMIT 1", (ticket, slot)).fetchone()
        if got is None:
            ch.captures += record_failure(conn, ticket, slot, "missed", "timeout", at, now, "system").captures
    return ch


def record_face(conn, capture_id: str, faces: int | None, similarity: float | None, reference: str | None,
                now: float) -> Changes:
    conn.execute("UPDATE captures SET faces = ?, similarity = ?, reference = ?, analyzed_at = ? WHERE capture_id = ?",
                 (faces, similarity, reference, now, capture_id))
    row = capture_row(conn, capture_id)
    return Changes(captures=[row] if row else [])


def id_check(conn, ticket: str, sitting_id: str, stage: str, method: str, document: str, approver: str,
             now: float, staff: str) -> Changes:
    cur = conn.execute("INSERT INTO id_checks (ticket, sitting_id, stage, method, document, approver, ts, staff)"
                       " VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (ticket, sitting_id, stage, method, document, approver,
                                                           now, staff))
    audit.append(conn, now, f"staff:{staff}", "id_check", sitting_id, ticket,
                 {"stage": stage, "method": method, "document": document, "approver": approver})
    row = dict(conn.execute("SELECT * FROM id_checks WHERE id = ?", (cur.lastrowid,)).fetchone())
    return Changes(id_checks=[row])


def audit_view(conn, staff: str, sitting_id: str, ticket: str, what: str, now: float) -> Changes:
    """Every view of a photo is in the audit chain (who, when, which)."""
    audit.append(conn, now, f"staff:{staff}", "view_photo", sitting_id, ticket, {"photo": what})
    return Changes()


def mark_purged(conn, capture_ids: list[str], now: float) -> int:
    n = 0
    for cid in capture_ids:
        n += conn.execute("UPDATE captures SET purged_at = ? WHERE capture_id = ? AND purged_at IS NULL",
                          (now, cid)).rowcount
    audit.append(conn, now, "system", "purge_photos", None, None, {"captures": n})
    return n
