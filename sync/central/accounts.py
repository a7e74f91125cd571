"""Who uses the centre: the city office (the admin token) and one account per district
office (区县定考办) that sees and acts on its own sites only. Office tokens are issued by
``python -m sync.central office-token``; only their sha256 is stored (like the admin
token), a new token ends the old one and its browser sessions. Every action is audited
(``actions`` table: who, office, when, what, on what, details)."""
from __future__ import annotations

import json
from dataclasses import dataclass

from .offices import CITY_OFFICE, load_offices, office_by_name

CITY = "city"


@dataclass(frozen=True)
class Principal:
    who: str                                  # "city" | "office-<no>"
    office: str                               # 市定考办 | the district office's name
    districts: tuple[str, ...] | None = None  # sites.csv districts it owns; None: every one

    @property
    def is_city(self) -> bool:
        return self.who == CITY

    def sees(self, district: str | None) -> bool:
        return self.districts is None or (district or "") in self.districts

    def label(self) -> str:
        return f"{self.office}（{self.who}）"


def city_principal() -> Principal:
    return Principal(CITY, CITY_OFFICE, None)


def office_principal(who: str) -> Principal | None:
    o = next((x for x in load_offices() if x["account"] == who), None)
    return Principal(who, o["office"], tuple(o["districts"])) if o else None


def account_by_token_hash(store, sha: str) -> Principal | None:
    rows = store.query("SELECT account FROM accounts WHERE token_sha256 = ?", (sha,))
    return office_principal(rows[0][0]) if rows else None


def account_token_hash(store, who: str) -> str | None:
    rows = store.query("SELECT token_sha256 FROM accounts WHERE account = ?", (who,))
    return rows[0][0] if rows else None


def issue_office_token(store, office: str, by: str = "cli") -> tuple[dict, str]:
    """A new token for a district office (by name or account); the old one stops working."""
    from .admin import new_token, token_hash
    o = office_by_name(office)
    if o is None:
        raise KeyError(f"没有这个区县定考办: {office}")
    token = new_token()
    with store.tx() as c:
        c.execute("INSERT INTO accounts(account, office, token_sha256, issued_at) VALUES (?,?,?,?)"
                  " ON CONFLICT(account) DO UPDATE SET token_sha256 = excluded.token_sha256,"
                  " issued_at = excluded.issued_at", (o["account"], o["office"], token_hash(token), store.clock()))
        record(c, store.clock(), by, CITY_OFFICE, "issue_office_token", o["account"], {"office": o["office"]})
    return o, token


def record(c, ts: float, actor: str, office: str, action: str, target: str | None, data: dict | None = None) -> None:
    """One audited action, inside the caller's transaction (it commits with the change)."""
    c.execute("INSERT INTO actions(ts, actor, office, action, target, data) VALUES (?,?,?,?,?,?)",
              (ts, actor, office, action, target, json.dumps(data or {}, ensure_ascii=False, sort_keys=True)))


def actions(store, office: str | None = None, limit: int = 200) -> list[dict]:
    if office is None:
        rows = store.query("SELECT * FROM actions ORDER BY id DESC LIMIT ?", (limit,))
    else:
        rows = store.query("SELECT * FROM actions WHERE office = ? ORDER BY id DESC LIMIT ?", (office, limit))
    return [dict(r) for r in rows]
