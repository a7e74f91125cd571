"""The hall database: one SQLite file in WAL mode, opened the same way everywhere.

Times are Unix epoch seconds (REAL) from the laptop's clock, which is the only clock the
exam trusts; the protocol converts them to milliseconds for phones.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlite_utils

SCHEMA_VERSION = 3

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS rooms (
    room_id  TEXT PRIMARY KEY,
    name     TEXT NOT NULL,
    capacity INTEGER NOT NULL
);
-- One row per (场次 x 考场): each room starts its own sitting.
CREATE TABLE IF NOT EXISTS sittings (
    sitting_id        TEXT PRIMARY KEY,
    sitting_no        INTEGER NOT NULL,
    room_id           TEXT NOT NULL REFERENCES rooms(room_id),
    date              TEXT NOT NULL,
    planned_start     TEXT NOT NULL,
    duration_s        INTEGER NOT NULL,
    late_entry_s      INTEGER NOT NULL,
    earliest_submit_s INTEGER NOT NULL,
    question_count    INTEGER NOT NULL,
    status            TEXT NOT NULL DEFAULT 'planned'
                      CHECK (status IN ('planned', 'started', 'paused', 'ended')),
    started_at        REAL,
    started_by        TEXT,
    paused_at         REAL,
    paused_total_s    REAL NOT NULL DEFAULT 0,
    ended_at          REAL
);
CREATE TABLE IF NOT EXISTS candidates (
    ticket      TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    gender      TEXT NOT NULL DEFAULT '',
    id_number   TEXT NOT NULL,
    category    TEXT NOT NULL,
    level       TEXT NOT NULL DEFAULT '',
    unit        TEXT NOT NULL DEFAULT '',
    department  TEXT NOT NULL DEFAULT '',
    sitting_id  TEXT NOT NULL REFERENCES sittings(sitting_id),
    seat_no     INTEGER
);
CREATE INDEX IF NOT EXISTS candidates_sitting ON candidates(sitting_id);
-- What a phone may see. The answer key lives apart in paper_keys.
CREATE TABLE IF NOT EXISTS papers (
    ticket     TEXT PRIMARY KEY REFERENCES candidates(ticket),
    paper_json TEXT NOT NULL,
    paper_hash TEXT NOT NULL
);
-- Papers still sealed in the bundle: opened with the sitting's release code at start.
CREATE TABLE IF NOT EXISTS sealed_sittings (
    sitting_id  TEXT PRIMARY KEY REFERENCES sittings(sitting_id),
    sealed      TEXT NOT NULL,
    released_at REAL,
    released_by TEXT
);
CREATE TABLE IF NOT EXISTS paper_keys (
    ticket   TEXT PRIMARY KEY REFERENCES candidates(ticket),
    key_json TEXT NOT NULL,
    points   REAL NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS media (
    name         TEXT PRIMARY KEY,
    content_type TEXT NOT NULL,
    data         BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS attempts (
    ticket          TEXT PRIMARY KEY REFERENCES candidates(ticket),
    sitting_id      TEXT NOT NULL REFERENCES sittings(sitting_id),
    status          TEXT NOT NULL
                    CHECK (status IN ('absent', 'logged_in', 'confirmed', 'answering', 'submitted', 'terminated')),
    signin_order    INTEGER,
    logged_in_at    REAL,
    confirmed_at    REAL,
    opened_at       REAL,
    deadline_at     REAL,
    extra_s         REAL NOT NULL DEFAULT 0,
    paused_s        REAL NOT NULL DEFAULT 0,  -- room pauses since opening: move deadline and earliest submit
    submitted_at    REAL,
    submit_reason   TEXT,
    receipt         TEXT,
    score           REAL,
    answered        INTEGER NOT NULL DEFAULT 0,
    device_id       TEXT,
    session_hash    TEXT,
    device_changes  INTEGER NOT NULL DEFAULT 0,
    mode            TEXT NOT NULL DEFAULT 'phone',
    late_reason     TEXT
);
CREATE INDEX IF NOT EXISTS attempts_deadline ON attempts(status, deadline_at);
-- Latest choice per question; seq is the phone's counter, so a replay never wins.
CREATE TABLE IF NOT EXISTS answers (
    ticket    TEXT NOT NULL REFERENCES attempts(ticket),
    q         INTEGER NOT NULL,
    choice    TEXT,
    seq       INTEGER NOT NULL,
    saved_at  REAL NOT NULL,
    changes   INTEGER NOT NULL DEFAULT 1,  -- accepted changes; answer_log keeps the first few
    PRIMARY KEY (ticket, q)
) WITHOUT ROWID;
-- Every accepted change, for the result bundle and disputes.
CREATE TABLE IF NOT EXISTS answer_log (
    id        INTEGER PRIMARY KEY,
    ticket    TEXT NOT NULL,
    q         INTEGER NOT NULL,
    choice    TEXT,
    seq       INTEGER NOT NULL,
    saved_at  REAL NOT NULL,
    device_id TEXT
);
CREATE TABLE IF NOT EXISTS staff (
    username      TEXT PRIMARY KEY,
    display_name  TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('chief', 'invigilator')),
    room_id       TEXT REFERENCES rooms(room_id)
);
-- 违纪记录. level: minor (一般违纪) | cheating (考试作弊) | serious (严重违纪).
CREATE TABLE IF NOT EXISTS violations (
    id         INTEGER PRIMARY KEY,
    ticket     TEXT NOT NULL REFERENCES candidates(ticket),
    sitting_id TEXT NOT NULL REFERENCES sittings(sitting_id),
    level      TEXT NOT NULL CHECK (level IN ('minor', 'cheating', 'serious')),
    facts      TEXT NOT NULL,
    ts         REAL NOT NULL,
    staff      TEXT NOT NULL
);
-- Incidents (power, network, system, sick, other): feed the room record's 其他.
CREATE TABLE IF NOT EXISTS incidents (
    id         INTEGER PRIMARY KEY,
    sitting_id TEXT REFERENCES sittings(sitting_id),
    kind       TEXT NOT NULL,
    text       TEXT NOT NULL,
    ts         REAL NOT NULL,
    staff      TEXT NOT NULL
);
-- Extra time (per candidate, or the whole room when ticket is NULL) and room pauses.
CREATE TABLE IF NOT EXISTS time_adjustments (
    id         INTEGER PRIMARY KEY,
    sitting_id TEXT NOT NULL REFERENCES sittings(sitting_id),
    ticket     TEXT,
    kind       TEXT NOT NULL CHECK (kind IN ('extra', 'pause')),
    seconds    REAL NOT NULL,
    reason     TEXT NOT NULL,
    started_at REAL NOT NULL,
    ended_at   REAL,
    staff      TEXT NOT NULL
);
-- Paper fallback (答题卡): each card keyed in twice by staff; scored when both agree.
CREATE TABLE IF NOT EXISTS paper_entries (
    ticket  TEXT NOT NULL REFERENCES candidates(ticket),
    pass_no INTEGER NOT NULL CHECK (pass_no IN (1, 2)),
    answers TEXT NOT NULL,
    staff   TEXT NOT NULL,
    ts      REAL NOT NULL,
    PRIMARY KEY (ticket, pass_no)
);
-- Device take-overs and focus losses, per attempt.
CREATE TABLE IF NOT EXISTS device_events (
    id         INTEGER PRIMARY KEY,
    ticket     TEXT NOT NULL,
    kind       TEXT NOT NULL,
    device_id  TEXT,
    data       TEXT NOT NULL DEFAULT '{}',
    ts         REAL NOT NULL
);
-- Camera proctoring (hall_server/proctor). One row per photo the phone delivered (status
-- ok; the file is photos/<sha256[:2]>/<sha256>.jpg) or per prompt that got none (missed:
-- the grace passed; refused: the phone said it could not). slot 0 is the login photo,
-- 1..n the server's random prompts. faces/similarity come from the face worker later.
CREATE TABLE IF NOT EXISTS captures (
    capture_id  TEXT PRIMARY KEY,
    ticket      TEXT NOT NULL REFERENCES candidates(ticket),
    slot        INTEGER NOT NULL,
    source      TEXT NOT NULL CHECK (source IN ('file', 'camera', 'server')),
    status      TEXT NOT NULL CHECK (status IN ('ok', 'missed', 'refused')),
    sha256      TEXT,
    bytes       INTEGER,
    width       INTEGER,
    height      INTEGER,
    taken_at    REAL,      -- the phone's claim (untrusted), on the server's clock
    received_at REAL NOT NULL,
    reason      TEXT,
    faces       INTEGER,
    similarity  REAL,
    reference   TEXT,      -- roster | login | NULL
    analyzed_at REAL,
    purged_at   REAL
);
CREATE INDEX IF NOT EXISTS captures_ticket ON captures(ticket);
-- 证件照 from the roster (optional; sealed in the signed bundle like the roster).
CREATE TABLE IF NOT EXISTS roster_photos (
    ticket  TEXT PRIMARY KEY REFERENCES candidates(ticket),
    sha256  TEXT NOT NULL,
    data    BLOB NOT NULL
);
-- Identity checks by the invigilator: at entry (身份已核验, or another document accepted
-- with the approver's name) and again during the exam (附件2 四(六)).
CREATE TABLE IF NOT EXISTS id_checks (
    id          INTEGER PRIMARY KEY,
    ticket      TEXT NOT NULL REFERENCES candidates(ticket),
    sitting_id  TEXT NOT NULL REFERENCES sittings(sitting_id),
    stage       TEXT NOT NULL CHECK (stage IN ('entry', 'during')),
    method      TEXT NOT NULL CHECK (method IN ('id_card', 'other', 'photo_waived')),
    document    TEXT NOT NULL DEFAULT '',
    approver    TEXT NOT NULL DEFAULT '',
    ts          REAL NOT NULL,
    staff       TEXT NOT NULL
);
-- Hash-chained: each entry's hash covers the previous entry's hash.
CREATE TABLE IF NOT EXISTS audit_log (
    id         INTEGER PRIMARY KEY,
    ts         REAL NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    sitting_id TEXT,
    ticket     TEXT,
    data       TEXT NOT NULL,
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
);
"""


def connect(path: str | Path, synchronous: str = "FULL", readonly: bool = False) -> sqlite3.Connection:
    """A raw connection with the pragmas every hall connection needs."""
    path = Path(path)
    if readonly:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False,
                               isolation_level=None)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA busy_timeout = 10000")
    conn.execute("PRAGMA foreign_keys = ON")
    if not readonly:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(f"PRAGMA synchronous = {synchronous}")
    return conn


def open_db(path: str | Path, synchronous: str = "FULL") -> sqlite_utils.Database:
    """sqlite-utils view of a connection, with the schema created if missing."""
    conn = connect(path, synchronous)
    db = sqlite_utils.Database(conn)
    init_schema(db)
    return db


# Columns added since version 1, for databases imported by an older hall.
MIGRATIONS = [
    ("attempts", "paused_s", "REAL NOT NULL DEFAULT 0"),
    ("answers", "changes", "INTEGER NOT NULL DEFAULT 1"),
]


def init_schema(db: sqlite_utils.Database) -> None:
    db.conn.executescript(SCHEMA)
    for table, column, decl in MIGRATIONS:
        if column not in {r[1] for r in db.conn.execute(f"PRAGMA table_info({table})")}:
            db.conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {decl}")
    db.conn.execute(
        "INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
    )
    db.conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version' AND CAST(value AS INTEGER) < ?",
                    (str(SCHEMA_VERSION), SCHEMA_VERSION))


def get_meta(db: sqlite_utils.Database, key: str, default: str | None = None) -> str | None:
    row = db.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return row[0] if row else default
