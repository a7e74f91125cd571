"""Test data made the way the appliance makes it: site plans in the real format, imported by
the hall's own importer, and exam days played through the exam's own writer operations.

- `make_plan` / `fast_plan`: a small site plan (tiny papers, test-sized durations); built
  from `new_plan`, `add_room`, `add_sitting`, `add_candidate`, `add_staff` for plans of
  another shape.
- `import_site(path, plan)`: the plan into a hall database, through `hall_server.importer`.
- `ExamScript`: logins, answers, submits, violations, pauses … at given exam times, each a
  writer operation (`hall_server/exam/ops.py`, `room_ops.py`) in its own savepoint, as the
  writer runs them: every row, audit entry, score and receipt is the appliance's own.
- `finished_site(...)`: a whole finished site (the centre's tests and benchmarks).
Never insert rows by hand: a test that does tests a database the appliance cannot make.
"""
from __future__ import annotations

import base64
import random
import secrets
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from contracts.exam import CATEGORIES, LEVELS
SURNAMES = "王李张刘陈杨黄赵吴周"
GIVEN = ["建国", "秀英", "志强", "丽华", "海燕", "文博", "静", "伟", "敏", "磊"]
EXAM_DAY_2023 = 1693789200.0          # 2023-09-04 09:00 +08:00


def keypair(seed: int | None = None) -> dict:
    """A site key pair {"private", "public"} (base64 raw Ed25519); seeded: the same every run."""
    if seed is None:
        key = Ed25519PrivateKey.generate()
    else:
        rng = random.Random(seed)
        key = Ed25519PrivateKey.from_private_bytes(bytes(rng.getrandbits(8) for _ in range(32)))
    priv = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    pub = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return {"private": base64.b64encode(priv).decode(), "public": base64.b64encode(pub).decode()}


# -- plans ------------------------------------------------------------------------------

def new_plan(*, site_no: str = "1", name: str = "测试考点医院", district: str = "渝中区",
             dates: tuple[str, ...] = ("2030-09-04",), demo: bool = True, site_key: dict | None = None,
             duration_minutes: float = 60, late_entry_minutes: float = 10, earliest_submit_minutes: float = 15,
             questions: int = 10, timezone: str | None = None, seed: int = 7) -> dict:
    """A plan with no rooms, sittings, candidates or staff yet (docs/site-plan.md)."""
    exam = {"title": "医师定期考核业务水平测评", "duration_minutes": duration_minutes,
            "late_entry_minutes": late_entry_minutes, "earliest_submit_minutes": earliest_submit_minutes,
            "question_count": questions, "points_per_question": 1}
    if timezone:
        exam["timezone"] = timezone
    return {"format": "hall-site-plan/1", "demo": demo,
            "site": {"site_no": site_no, "name": name, "district": district, "exam_dates": list(dates)},
            "exam": exam, "rooms": [], "sittings": [], "candidates": [], "papers": {}, "keys": {}, "media": {},
            "staff": [], "site_key": site_key or keypair(seed)}


def add_room(plan: dict, room_id: str, name: str, capacity: int) -> None:
    plan["rooms"].append({"room_id": room_id, "name": name, "capacity": capacity})


def add_sitting(plan: dict, sitting_id: str, room_id: str, planned_start: str, sitting_no: int = 1) -> None:
    plan["sittings"].append({"sitting_id": sitting_id, "sitting_no": sitting_no, "room_id": room_id,
                             "date": planned_start[:10], "planned_start": planned_start})


def add_staff(plan: dict, username: str, display_name: str, role: str, room_id: str | None,
              password: str | None = None, password_hash: str | None = None) -> None:
    """`password_hash`: a hash made once and reused (scrypt per account is slow at 343 sites)."""
    entry = {"username": username, "display_name": display_name, "role": role, "room_id": room_id}
    entry.update({"password_hash": password_hash} if password_hash else {"password": password})
    plan["staff"].append(entry)


def add_candidate(plan: dict, candidate: dict, questions: list, key: list) -> None:
    """`candidate`: ticket, name, id_number, category, sitting_id (and gender, level, unit,
    department, seat_no); `questions`: the paper's questions; `key`: one option key each."""
    plan["candidates"].append(candidate)
    plan["papers"][candidate["ticket"]] = {"questions": questions}
    plan["keys"][candidate["ticket"]] = key


def paper(n: int, label: str, rng: random.Random, option_keys=lambda q: "ABCDE"[: 4 + (q % 2)]):
    """(questions, key) of an n-question paper; `option_keys(q)`: the options of question q."""
    qs, key = [], []
    for q in range(1, n + 1):
        opts = list(option_keys(q))
        qs.append({"no": q, "stem": f"【测试题】{label}第{q}题", "image": None,
                   "options": [{"key": k, "text": f"选项{k}"} for k in opts]})
        key.append(rng.choice(opts))
    return qs, key


def make_plan(candidates_per_room: int = 10, rooms: int = 2, questions: int = 10, seed: int = 7,
              duration_minutes: float = 60, earliest_submit_minutes: float = 15,
              late_entry_minutes: float = 10, planned_start: str = "2030-09-04T09:00:00+08:00",
              site_no: str = "1") -> dict:
    rng = random.Random(seed)
    plan = new_plan(site_no=site_no, dates=(planned_start[:10],), duration_minutes=duration_minutes,
                    late_entry_minutes=late_entry_minutes, earliest_submit_minutes=earliest_submit_minutes,
                    questions=questions, seed=seed)
    add_staff(plan, "chief", "主考", "chief", None, password="chief-pw")
    n = 0
    for r in range(1, rooms + 1):
        room_id = f"R{r:02d}"
        sitting_id = f"D1S1-{room_id}"
        add_room(plan, room_id, f"第{r}考场", candidates_per_room)
        add_sitting(plan, sitting_id, room_id, planned_start)
        add_staff(plan, f"r{r:02d}", f"第{r}考场监考", "invigilator", room_id, password=f"r{r:02d}-pw")
        for seat in range(1, candidates_per_room + 1):
            n += 1
            ticket = f"2030{r:02d}{seat:04d}{n:06d}"
            cat = CATEGORIES[n % 4]
            cand = {"ticket": ticket, "name": rng.choice(SURNAMES) + rng.choice(GIVEN), "gender": "男女"[n % 2],
                    "id_number": f"500101198{n % 10}0101{n:03d}{'X' if n % 7 == 0 else n % 10}",
                    "category": cat, "level": "执业医师", "unit": f"第{n % 3 + 1}人民医院", "department": "内科",
                    "sitting_id": sitting_id, "seat_no": seat}
            add_candidate(plan, cand, *paper(questions, cat, rng))
    return plan


def fast_plan(**kw):
    """Durations short enough to reach every rule within a test."""
    args = dict(duration_minutes=0.1, earliest_submit_minutes=0.02, late_entry_minutes=10)
    args.update(kw)
    return make_plan(**args)


def import_site(path: str | Path, plan: dict) -> Path:
    """The plan into a new hall database at `path`, by the hall's own importer."""
    from hall_server.importer import import_plan

    import_plan(path, plan)
    return Path(path)


# -- exam days --------------------------------------------------------------------------

class ExamScript:
    """Plays an exam day on an imported site through the writer operations.

    Queue events with `at(t, action, *args)` (action: a method name below) and `play()` runs
    them in time order, each in its own savepoint of one transaction, as the writer does; or
    call the methods directly. A refused operation (ExamError) raises: the script is wrong.
    """

    def __init__(self, db_path: str | Path):
        from hall_server.config import DEFAULTS
        from hall_server.db import schema
        from hall_server.exam import ops

        self.conn = schema.connect(db_path, synchronous="OFF")    # test data: no fsync per event
        meta = {r[0]: r[1] for r in self.conn.execute("SELECT key, value FROM meta")}
        self.receipt_key = ops.receipt_key(meta["site_key_private"])
        self.log_cap = DEFAULTS["rules"]["answer_log_max_per_question"]
        self.sitting_of = {r[0]: r[1] for r in self.conn.execute("SELECT ticket, sitting_id FROM candidates")}
        self.seq: dict[str, int] = {}
        self.events: list[tuple[float, int, str, tuple]] = []

    # -- running ------------------------------------------------------------------------
    def _op(self, fn, *args):
        self.conn.execute("SAVEPOINT op")
        try:
            result = fn(self.conn, *args)
        except BaseException:
            self.conn.execute("ROLLBACK TO op")
            self.conn.execute("RELEASE op")
            raise
        self.conn.execute("RELEASE op")
        return result

    def at(self, t: float, action: str, *args) -> "ExamScript":
        self.events.append((t, len(self.events), action, args))
        return self

    def play(self) -> "ExamScript":
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            for t, _, action, args in sorted(self.events):
                getattr(self, action)(t, *args)
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")
        self.events.clear()
        return self

    def close(self) -> None:
        self.conn.close()

    # -- candidates -----------------------------------------------------------------------
    def login(self, t: float, ticket: str, device: str | None = None, approval: bool = False):
        from hall_server.exam import ops
        from hall_server.exam.service import session_hash

        return self._op(ops.login, ticket, self.sitting_of[ticket], t, device or f"dev-{ticket}",
                        session_hash(secrets.token_urlsafe(24)), approval)

    def confirm(self, t: float, ticket: str):
        from hall_server.exam import ops
        return self._op(ops.confirm, ticket, t)

    def open(self, t: float, ticket: str):
        from hall_server.exam import ops
        return self._op(ops.open_paper, ticket, t)

    def sit(self, t: float, ticket: str) -> None:
        """Log in 40 s and confirm 20 s before opening the paper at t."""
        self.login(t - 40, ticket)
        self.confirm(t - 20, ticket)
        self.open(t, ticket)

    def answer(self, t: float, ticket: str, q: int, choice: str | None, device: str | None = None):
        from hall_server.exam import ops
        self.seq[ticket] = self.seq.get(ticket, 0) + 1
        return self._op(ops.answer, ticket, q, choice, self.seq[ticket], t, device or f"dev-{ticket}", self.log_cap)

    def answer_all(self, t: float, ticket: str, choices: list, every: float = 2.0) -> None:
        """Question q's choice at t + (q - 1) * every."""
        for q, choice in enumerate(choices, start=1):
            self.answer(t + (q - 1) * every, ticket, q, choice)

    def submit(self, t: float, ticket: str):
        from hall_server.exam import ops
        return self._op(ops.submit, ticket, [], t, f"dev-{ticket}", self.receipt_key, self.log_cap)

    def time_up(self, t: float):
        from hall_server.exam import ops
        return self._op(ops.finalize_due, t, self.receipt_key, [], [], self.log_cap)

    # -- staff ----------------------------------------------------------------------------
    def start(self, t: float, sitting_id: str, staff: str = "chief"):
        from hall_server.exam import ops
        return self._op(ops.start_sitting, sitting_id, t, staff)

    def end(self, t: float, sitting_id: str, staff: str = "chief"):
        from hall_server.exam import ops
        return self._op(ops.end_sitting, sitting_id, t, staff, self.receipt_key)

    def violation(self, t: float, ticket: str, level: str, facts: str, staff: str = "chief"):
        from hall_server.exam import room_ops
        return self._op(room_ops.violation, ticket, level, facts, t, staff, self.receipt_key)

    def incident(self, t: float, sitting_id: str, kind: str, text: str, staff: str = "chief"):
        from hall_server.exam import room_ops
        return self._op(room_ops.incident, sitting_id, kind, text, t, staff)

    def pause(self, t: float, sitting_id: str, reason: str, staff: str = "chief"):
        from hall_server.exam import room_ops
        return self._op(room_ops.pause, sitting_id, reason, t, staff)

    def resume(self, t: float, sitting_id: str, staff: str = "chief"):
        from hall_server.exam import room_ops
        return self._op(room_ops.resume, sitting_id, t, staff)

    def extra_time(self, t: float, sitting_id: str, ticket: str | None, seconds: float, reason: str,
                   staff: str = "chief"):
        from hall_server.exam import room_ops
        return self._op(room_ops.extra_time, sitting_id, ticket, seconds, reason, t, staff)

    def admit_late(self, t: float, ticket: str, reason: str, staff: str = "chief"):
        from hall_server.exam import room_ops
        return self._op(room_ops.admit_late, ticket, reason, t, staff)

    def mark_absent(self, t: float, sitting_id: str):
        from hall_server.exam import room_ops
        return self._op(room_ops.mark_absent, sitting_id, t)

    def paper_entry(self, t: float, ticket: str, pass_no: int, answers: str, staff: str = "chief"):
        from hall_server.exam import room_ops
        return self._op(room_ops.paper_entry, ticket, pass_no, answers, t, staff, self.receipt_key)


# -- a finished site (the centre's side) --------------------------------------------------

_STAFF_HASH: list[str] = []


def _staff_hash() -> str:
    """One scrypt hash for every synthetic staff account (hashing is the slow part of a plan)."""
    if not _STAFF_HASH:
        from contracts.passwords import hash_password
        _STAFF_HASH.append(hash_password("demo-staff-pw"))
    return _STAFF_HASH[0]


def finished_site(path: str | Path, site_no: str, private_b64: str, *, site_name: str | None = None,
                  district: str = "渝中区", n_candidates: int = 20, questions: int = 100, rooms: int = 2,
                  seed: int = 1, absent: int = 2) -> dict:
    """A finished DEMO site at `path`, as the hall leaves it after exam day: every sitting
    ended; candidate 1 terminated for cheating, 2 warned (minor), every 5th finalized at time-up,
    every 7th (from the 4th) changed device, the last `absent` never came (the first of them
    marked 缺考 by the sweep); room 1 paused 3 minutes for a power cut (an incident).
    Returns {"keys", "tickets", "roster" (candidates with site_no), "public"}."""
    rnd = random.Random(f"{site_no}-{seed}")
    pub = base64.b64encode(Ed25519PrivateKey.from_private_bytes(base64.b64decode(private_b64))
                           .public_key().public_bytes_raw()).decode()
    plan = new_plan(site_no=str(site_no), name=site_name or f"DEMO 考点{site_no}", district=district,
                    dates=("2023-09-04",), site_key={"private": private_b64, "public": pub}, questions=questions)
    add_staff(plan, "chief", "主考", "chief", None, password_hash=_staff_hash())
    sittings = []
    for r in range(1, rooms + 1):
        rid = f"R{r:02d}"
        add_room(plan, rid, f"第{r}考场", 40)
        add_sitting(plan, f"D1S1-{rid}", rid, "2023-09-04T09:00:00+08:00")
        sittings.append(f"D1S1-{rid}")
    roster = []
    for i in range(n_candidates):
        t = f"50{int(site_no):03d}2023{i + 1:06d}"
        cand = {"ticket": t, "name": f"考生{site_no}-{i + 1}", "gender": "男女"[i % 2],
                "id_number": f"500101198{i % 10}0101{i:04d}"[:18], "category": CATEGORIES[i % 4],
                "level": LEVELS[(i // 4) % 2], "unit": f"DEMO 单位{(i % 3) + 1}（考点{site_no}）",
                "department": "内科", "sitting_id": sittings[i % len(sittings)], "seat_no": i // len(sittings) + 1}
        add_candidate(plan, cand, *paper(questions, cand["category"], rnd, option_keys=lambda q: "ABCDE"))
        roster.append({**cand, "site_no": str(site_no)})
    import_site(path, plan)

    T0 = EXAM_DAY_2023
    s = ExamScript(path)
    for sid in sittings:
        s.at(T0, "start", sid)
    last_deadline = T0
    for i, cand in enumerate(plan["candidates"]):
        t, sid, key = cand["ticket"], cand["sitting_id"], plan["keys"][cand["ticket"]]
        if i >= n_candidates - absent:
            if i == n_candidates - absent:      # the sweep marks 缺考 after the late-entry limit
                s.at(T0 + 601, "mark_absent", sid)
            continue
        opened = T0 + 60 + i
        s.at(opened, "sit", t)
        skill = rnd.uniform(0.45, 0.95)
        for q in range(1, questions + 1):
            if rnd.random() < 0.1:                # changed mind once
                s.at(opened + q * 5 - 2, "answer", t, q, rnd.choice("ABCDE"))
            s.at(opened + q * 5, "answer", t, q, key[q - 1] if rnd.random() < skill else rnd.choice("ABCDE"))
        if i % 7 == 3:
            s.at(opened + 600, "login", t, f"dev2-{t}")
        if i == 1:
            s.at(opened + 900, "violation", t, "cheating", "使用手机搜索答案", "inv1")
        elif i == 2:
            s.at(opened + 100, "violation", t, "minor", "未按指定座位就座", "inv1")
        if i != 1 and i % 5 != 0:
            s.at(opened + 2400 + i, "submit", t)
        last_deadline = max(last_deadline, opened + 3600 + 180)
    s.at(T0 + 1200, "pause", sittings[0], "停电")
    s.at(T0 + 1200, "incident", sittings[0], "power", "09:20 停电 3 分钟，UPS 供电，考试未中断")
    s.at(T0 + 1380, "resume", sittings[0])
    s.at(last_deadline + 1, "time_up")
    for sid in sittings:
        s.at(last_deadline + 60, "end", sid)
    s.play().close()
    keys = {c["ticket"]: plan["keys"][c["ticket"]] for c in plan["candidates"]}
    return {"keys": keys, "tickets": [c["ticket"] for c in plan["candidates"]], "roster": roster, "public": pub}


def new_site_key() -> tuple[str, str]:
    """(private_b64, public_b64) of a fresh site key."""
    k = keypair()
    return k["private"], k["public"]
