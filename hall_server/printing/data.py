"""Read-only queries shared by the printed documents.

Accepts a sqlite3.Connection or a sqlite_utils.Database. A document reads one snapshot
(see reading()), so its counts and lists agree even while the exam writer keeps writing.
Nothing here ever writes.
"""
from __future__ import annotations

import json
import sqlite3
import time
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date as Date, datetime
from pathlib import Path
from typing import Any, Iterator

# The console's own labels and counts, so screen and paper say the same thing.
from hall_server import zone
from hall_server.exam import counts
from hall_server.exam.rules import SittingTimes

# Forms print times in the exam's zone (hall_server/zone.py), never the laptop's: the caller
# sets it for one document (using_zone); the default is the configured default zone.
_ZONE: ContextVar = ContextVar("exam_zone", default=None)


def current_zone():
    tz = _ZONE.get()
    return tz if tz is not None else zone.get(zone.DEFAULT)


@contextmanager
def using_zone(tz):
    token = _ZONE.set(tz)
    try:
        yield tz
    finally:
        _ZONE.reset(token)

class NotFound(LookupError):
    pass


def conn_of(db: Any) -> sqlite3.Connection:
    return db.conn if hasattr(db, "conn") else db


@contextmanager
def reading(db: Any) -> Iterator["Reader"]:
    """One consistent snapshot for a whole document, without touching the caller's
    connection state: a file database is read through a private read-only connection
    inside one read transaction; a caller already in a transaction (or an in-memory
    database) is read as it stands."""
    conn = conn_of(db)
    path = _file_of(conn)
    if conn.in_transaction or not path:
        yield Reader(conn)
        return
    own = sqlite3.connect(f"{Path(path).as_uri()}?mode=ro", uri=True, isolation_level=None)
    try:
        own.execute("PRAGMA busy_timeout = 10000")
        own.execute("BEGIN")
        yield Reader(own)
    finally:
        own.close()


def _file_of(conn: sqlite3.Connection) -> str:
    for row in conn.execute("PRAGMA database_list").fetchall():
        if row[1] == "main":
            return row[2] or ""
    return ""


def local_dt(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, current_zone())


def hm(ts: float | None, seconds: bool = False) -> str:
    d = local_dt(ts)
    return "" if d is None else d.strftime("%H:%M:%S" if seconds else "%H:%M")


def duration_zh(seconds: float | None) -> str:
    """30 -> '30 秒', 90 -> '1 分 30 秒', 600 -> '10 分钟': a short pause is never '0 分钟'."""
    secs = max(0, round(seconds or 0))
    m, s = divmod(secs, 60)
    if m == 0:
        return f"{s} 秒"
    return f"{m} 分钟" if s == 0 else f"{m} 分 {s} 秒"


def envelope_text(envelope) -> str:
    """The room record's line for an opened 放行码信封 (also in the result bundle)."""
    return (f"{hm(envelope['opened_at'])}  【开启放行码信封】未能联系区县定考办，"
            f"开启密封信封取得放行码（封条号 {envelope['seal_no']}，开启人 {envelope['opened_by']}）")


def cn_date(iso: str) -> str:
    try:
        d = Date.fromisoformat(iso[:10])
    except ValueError:
        return iso
    return f"{d.year}年{d.month}月{d.day}日"


def planned_hm(planned_start: str) -> str:
    """'2023-09-04T09:00:00+08:00' -> '09:00' in site time, whatever offset it was given in."""
    try:
        d = datetime.fromisoformat(planned_start)
    except ValueError:
        return planned_start
    if d.tzinfo is not None:
        d = d.astimezone(current_zone())
    return d.strftime("%H:%M")


def mask_id(id_number: str, head: int = 6) -> str:
    """500101199001011234 -> 500101************. The last 6 characters are the phone login
    secret and a sign-in sheet lies open at the door, so none of them is ever printed."""
    s = (id_number or "").strip()
    if not s:
        return ""
    head = min(head, max(len(s) - 6, 0))
    return s[:head] + "*" * (len(s) - head)


@dataclass
class Sitting:
    sitting_id: str
    sitting_no: int
    date: str
    planned_start: str
    room_id: str
    room_name: str
    question_count: int
    status: str
    started_at: float | None
    ended_at: float | None
    paused_total_s: float
    site_name: str
    site_no: str
    demo: str                       # the banner of a demo or a rehearsal, '' for a real exam
    duration_s: int = 3600
    late_entry_s: int = 600
    earliest_submit_s: int = 900
    title: str = "医师定期考核业务水平测评"
    extra: dict = field(default_factory=dict)


class Reader:
    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def rows(self, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
        cur = self.conn.cursor()
        cur.row_factory = sqlite3.Row  # leave the caller's connection settings alone
        return cur.execute(sql, params).fetchall()

    def meta(self, key: str, default: str = "") -> str:
        r = self.rows("SELECT value FROM meta WHERE key = ?", (key,))
        return r[0]["value"] if r else default

    def site(self) -> tuple[str, str, str]:
        """(name, number, banner): the banner is '' for a real exam (layout.mark)."""
        from .layout import mark

        demo = mark(self.meta("demo", ""), self.meta("rehearsal", ""))
        return self.meta("site_name", "（未设置考点名称）"), self.meta("site_no", ""), demo

    def sitting(self, sitting_id: str) -> Sitting:
        r = self.rows(
            "SELECT s.*, r.name AS room_name FROM sittings s JOIN rooms r USING (room_id) "
            "WHERE s.sitting_id = ?", (sitting_id,))
        if not r:
            raise NotFound(f"no sitting {sitting_id!r} in this database")
        s = r[0]
        site_name, site_no, demo = self.site()
        return Sitting(s["sitting_id"], s["sitting_no"], s["date"], s["planned_start"],
                       s["room_id"], s["room_name"], s["question_count"], s["status"],
                       s["started_at"], s["ended_at"], s["paused_total_s"] or 0,
                       site_name, site_no, demo, s["duration_s"], s["late_entry_s"],
                       s["earliest_submit_s"], self.meta("exam_title", "") or Sitting.title)

    def sittings(self) -> list[sqlite3.Row]:
        return self.rows("SELECT s.*, r.name AS room_name FROM sittings s JOIN rooms r USING (room_id) "
                         "ORDER BY s.date, s.sitting_no, r.name, s.sitting_id")

    def candidates(self, sitting_id: str | None = None, now: float | None = None) -> list[dict]:
        """Candidates with their attempt (None columns when they never signed in) and their
        attendance at ``now`` (default: the time of reading): ``attendance`` is present |
        absent | pending as hall_server/exam/counts.py defines it, ``present`` a bool."""
        where, params = ("WHERE c.sitting_id = ?", (sitting_id,)) if sitting_id else ("", ())
        rows = self.rows(
            f"SELECT c.*, a.status, a.signin_order, a.logged_in_at, a.opened_at, a.submitted_at, a.receipt,"
            f" a.score, a.answered, a.device_changes, a.mode, a.submit_reason, a.late_reason,"
            f" s.sitting_no, s.date, r.name AS room_name, r.room_id"
            f" FROM candidates c JOIN sittings s ON s.sitting_id = c.sitting_id"
            f" JOIN rooms r ON r.room_id = s.room_id"
            f" LEFT JOIN attempts a ON a.ticket = c.ticket {where}"
            f" ORDER BY c.seat_no IS NULL, c.seat_no, c.ticket", params)
        now = time.time() if now is None else now
        sittings = {r["sitting_id"]: SittingTimes.of(r) for r in self.rows("SELECT * FROM sittings")}
        out = []
        for r in rows:
            c = dict(r)
            c["attendance"] = counts.classify(c["opened_at"], c["mode"], bool(c["late_reason"]),
                                              sittings[c["sitting_id"]], now, c["status"])
            c["present"] = c["attendance"] == counts.PRESENT
            out.append(c)
        return out

    def violations(self, sitting_id: str) -> list[sqlite3.Row]:
        return self.rows(
            "SELECT v.*, c.name, c.unit, c.department FROM violations v "
            "LEFT JOIN candidates c ON c.ticket = v.ticket WHERE v.sitting_id = ? ORDER BY v.ts, v.id",
            (sitting_id,))

    def incidents(self, sitting_id: str) -> list[sqlite3.Row]:
        return self.rows("SELECT * FROM incidents WHERE sitting_id = ? ORDER BY ts, id", (sitting_id,))

    def has_table(self, name: str) -> bool:
        return bool(self.rows("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)))

    def time_adjustments(self, sitting_id: str) -> list[sqlite3.Row]:
        """Pauses and extra time (absent from databases older than the table)."""
        if not self.has_table("time_adjustments"):
            return []
        return self.rows("SELECT t.*, c.name FROM time_adjustments t LEFT JOIN candidates c USING (ticket)"
                         " WHERE t.sitting_id = ? ORDER BY t.started_at, t.id", (sitting_id,))

    def release_envelope(self, sitting_id: str) -> sqlite3.Row | None:
        """The sitting's 放行码信封, if the bundle had one (opened_at set once opened)."""
        if not self.has_table("release_envelopes"):
            return None
        r = self.rows("SELECT * FROM release_envelopes WHERE sitting_id = ?", (sitting_id,))
        return r[0] if r else None

    def paper(self, ticket: str) -> dict | None:
        r = self.rows("SELECT paper_json FROM papers WHERE ticket = ?", (ticket,))
        return json.loads(r[0]["paper_json"]) if r else None

    def max_points(self) -> float:
        """Full marks of the heaviest paper at this site (100 for the standard test)."""
        r = self.rows("SELECT MAX(s.question_count * COALESCE(k.points, 1)) AS m FROM candidates c "
                      "JOIN sittings s ON s.sitting_id = c.sitting_id "
                      "LEFT JOIN paper_keys k ON k.ticket = c.ticket")
        return float(r[0]["m"] or 100)
