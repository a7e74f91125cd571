"""Tablets for invigilators (issue 17 item 6): the console opens on the laptop (and the
addresses of `security.staff_allowlist`); a tablet on the room WiFi is let in by pairing.

1. The chief, on the laptop, asks for a pairing code: 6 digits, valid for
   `security.pairing_code_seconds`, good for one tablet (kept in memory only; its issue is
   audited, not its digits).
2. The tablet opens /console/pair and enters the code with a staff login. The writer stores
   the hash of a fresh random device token (`paired_devices`, audited `pair_device`); the
   tablet keeps the token in an HttpOnly cookie and is allowed from then on.
3. The chief revokes a tablet on the laptop (audited `revoke_device`): its next request is
   refused and its console sockets are closed.

The set of allowed tokens is mirrored in memory from what the committed transaction
returned (the mirror rule), so checking a request never touches SQLite.
"""
from __future__ import annotations

import hashlib
import secrets
import sqlite3
from dataclasses import dataclass
from typing import Callable

from ..exam import audit

COOKIE = "hall_device"
CODE_DIGITS = 6


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# -- writer operations ----------------------------------------------------------------

def issue_code_op(conn, expires_at: float, now: float, staff: str) -> float:
    audit.append(conn, now, f"staff:{staff}", "pairing_code", None, None, {"expires_at": round(expires_at, 3)})
    return expires_at


def pair_op(conn, digest: str, label: str, staff: str, address: str, now: float) -> dict:
    cur = conn.execute("INSERT INTO paired_devices (token_hash, label, staff, address, paired_at)"
                       " VALUES (?, ?, ?, ?, ?)", (digest, label, staff, address, now))
    audit.append(conn, now, f"staff:{staff}", "pair_device", None, None,
                 {"device": cur.lastrowid, "label": label, "address": address})
    return dict(conn.execute("SELECT * FROM paired_devices WHERE id = ?", (cur.lastrowid,)).fetchone())


def revoke_op(conn, device_id: int, staff: str, now: float) -> dict | None:
    row = conn.execute("SELECT * FROM paired_devices WHERE id = ?", (device_id,)).fetchone()
    if row is None:
        return None
    if row["revoked_at"] is None:
        conn.execute("UPDATE paired_devices SET revoked_at = ?, revoked_by = ? WHERE id = ?", (now, staff, device_id))
        audit.append(conn, now, f"staff:{staff}", "revoke_device", None, None,
                     {"device": device_id, "label": row["label"]})
    return dict(conn.execute("SELECT * FROM paired_devices WHERE id = ?", (device_id,)).fetchone())


# -- the service ----------------------------------------------------------------------

@dataclass
class Code:
    expires_at: float
    issued_by: str


class Pairing:
    def __init__(self, writer, clock: Callable[[], float], code_seconds: float):
        self.writer = writer
        self.clock = clock
        self.code_seconds = code_seconds
        self.codes: dict[str, Code] = {}
        self.devices: dict[int, dict] = {}          # id -> row (revoked ones too, for the list)
        self.active: dict[str, int] = {}            # token hash -> id, only the allowed
        self.on_revoked: Callable[[str], None] = lambda digest: None

    def load(self, conn: sqlite3.Connection) -> "Pairing":
        conn.row_factory = sqlite3.Row
        for r in conn.execute("SELECT * FROM paired_devices"):
            self._apply(dict(r))
        return self

    def _apply(self, row: dict | None) -> None:
        if row is None:
            return
        self.devices[row["id"]] = row
        if row["revoked_at"] is None:
            self.active[row["token_hash"]] = row["id"]
        elif self.active.pop(row["token_hash"], None) is not None:
            self.on_revoked(row["token_hash"])

    def allowed(self, token: str | None) -> bool:
        return isinstance(token, str) and 0 < len(token) <= 128 and token_hash(token) in self.active

    def device_of(self, token: str | None) -> dict | None:
        i = self.active.get(token_hash(token)) if isinstance(token, str) else None
        return self.devices.get(i) if i is not None else None

    def new_code(self, staff: str) -> tuple[str, float]:
        now = self.clock()
        self._expire(now)
        code = "".join(secrets.choice("0123456789") for _ in range(CODE_DIGITS))
        while code in self.codes:
            code = "".join(secrets.choice("0123456789") for _ in range(CODE_DIGITS))
        expires = self.writer.call(issue_code_op, now + self.code_seconds, now, staff)
        self.codes[code] = Code(expires, staff)   # usable only once its issue is on the audit chain
        return code, expires

    def take_code(self, code) -> bool:
        """Use a code up (one tablet per code); False if unknown or expired."""
        self._expire(self.clock())
        if not isinstance(code, str):
            return False
        return self.codes.pop("".join(ch for ch in code if ch in "0123456789"), None) is not None

    def pair(self, staff: str, label: str, address: str) -> str:
        """A fresh device token for the tablet (its hash is stored once committed)."""
        token = secrets.token_urlsafe(32)
        self.writer.call(pair_op, token_hash(token), label, staff, address, self.clock(), apply=self._apply)
        return token

    def revoke(self, device_id: int, staff: str) -> dict | None:
        return self.writer.call(revoke_op, device_id, staff, self.clock(), apply=self._apply)

    def _expire(self, now: float) -> None:
        for c in [c for c, v in self.codes.items() if v.expires_at < now]:
            del self.codes[c]


def cookie_max_age(days: float) -> int:
    return int(days * 86400)
