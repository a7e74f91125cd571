"""放行码信封 at the site: the chief opened a sitting's sealed envelope for its release code
because the county office could not be reached (provisioning/envelopes.py). Runs inside
start_sitting's transaction: the seal number must be the one the bundle names for this
sitting, and the opening is recorded and audited with the start."""
from __future__ import annotations

from . import audit
from .errors import ExamError


def open_envelope(conn, sitting_id: str, seal_no: str, now: float, staff: str) -> None:
    row = conn.execute("SELECT seal_no, opened_at FROM release_envelopes WHERE sitting_id = ?",
                       (sitting_id,)).fetchone()
    if row is None:
        raise ExamError("bad_state", "本场次没有放行码信封：请向区县定考办索取放行码")
    if row[0] != seal_no:
        raise ExamError("bad_seal")
    conn.execute("UPDATE release_envelopes SET opened_at = ?, opened_by = ? WHERE sitting_id = ?",
                 (now, staff, sitting_id))
    audit.append(conn, now, f"staff:{staff}", "open_envelope", sitting_id, None, {"seal_no": seal_no})
