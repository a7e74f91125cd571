"""Staff accounts and what each may see and do: the chief examiner the whole site, an
invigilator their own room, the patrol (巡考, 附件2 一) every room but only to watch and to
record violations and incidents, never to start, pause or end a sitting."""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from contracts.passwords import check_password

from ..db import schema


ROLES = {"chief": "主考", "invigilator": "监考", "patrol": "巡考"}


@dataclass(frozen=True)
class Staff:
    username: str
    display_name: str
    role: str            # chief | invigilator | patrol
    room_id: str | None

    def may_run(self, room_id: str) -> bool:
        """Act on the room's sitting: start, pause, time, admissions, devices, paper."""
        return self.role == "chief" or (self.role == "invigilator" and self.room_id == room_id)

    def may_view(self, room_id: str) -> bool:
        """Watch the room and read its forms."""
        return self.role == "patrol" or self.may_run(room_id)

    def may_record(self, room_id: str) -> bool:
        """Record a violation or an incident in the room."""
        return self.may_view(room_id)

    @property
    def role_name(self) -> str:
        return ROLES.get(self.role, self.role)


class StaffDirectory:
    def __init__(self, rows: list[dict], db_path=None):
        self._rows = {r["username"]: r for r in rows}
        self._db_path = db_path

    @classmethod
    def load(cls, db_path) -> "StaffDirectory":
        return cls(cls._read(db_path), db_path)

    @staticmethod
    def _read(db_path) -> list[dict]:
        conn = schema.connect(db_path, readonly=True)
        try:
            return [dict(r) for r in conn.execute("SELECT * FROM staff")]
        finally:
            conn.close()

    def reload(self) -> None:
        """Accounts added with `hall staff add` while the server runs count from the next login."""
        if self._db_path is not None:
            self._rows = {r["username"]: r for r in self._read(self._db_path)}

    def get(self, username: str | None) -> Staff | None:
        r = self._rows.get(username or "")
        return Staff(r["username"], r["display_name"], r["role"], r["room_id"]) if r else None

    def authenticate(self, username, password) -> Staff | None:
        if not isinstance(username, str) or not isinstance(password, str) or len(password) > 200:
            return None
        self.reload()  # runs off the event loop (the caller uses run_blocking)
        r = self._rows.get(username)
        if r is None or not check_password(password, r["password_hash"]):
            return None
        return self.get(username)


class StaffError(ValueError):
    """A staff account that cannot be saved; the message says why, in Chinese."""


def add_account(db_path, username: str, display_name: str, password: str, role: str, room_id: str | None) -> None:
    """`hall staff add`: a new account on the laptop (the bundle brings the others)."""
    from contracts.passwords import hash_password

    db = schema.open_db(db_path)
    try:
        if room_id and db.conn.execute("SELECT 1 FROM rooms WHERE room_id = ?", (room_id,)).fetchone() is None:
            raise StaffError(f"考场 {room_id} 不存在")
        try:
            db.conn.execute("INSERT INTO staff(username, display_name, password_hash, role, room_id) VALUES (?,?,?,?,?)",
                            (username, display_name, hash_password(password), role, room_id))
        except Exception as e:
            raise StaffError(f"无法添加: {e}") from None
    finally:
        db.conn.close()


def set_password(db_path, username: str, password: str) -> None:
    """`hall staff passwd`: a new password for an existing account."""
    from contracts.passwords import hash_password

    db = schema.open_db(db_path)
    try:
        cur = db.conn.execute("UPDATE staff SET password_hash = ? WHERE username = ?", (hash_password(password), username))
        if cur.rowcount == 0:
            raise StaffError(f"账号 {username} 不存在")
    finally:
        db.conn.close()


def address_allowed(addr: str | None, allowlist: list[str]) -> bool:
    """Entries are addresses or networks ("192.168.10.0/24")."""
    if not addr:
        return False
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return False
    for entry in allowlist:
        try:
            if ip in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False
