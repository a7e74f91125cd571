"""Property-based fuzzing of every Socket.IO event against the real server.

Hostile JSON (any type, NaN/Infinity, huge ints, control and look-alike characters,
injection strings, near-valid payloads with one field broken) goes to every candidate
event from three sessions (not logged in, answering, submitted) and to every /staff event
from an invigilator who may not run the target sitting. Properties:
- the server stays up and the connection keeps working;
- every ack has the documented shape with a known error code, and is ok only where the
  protocol allows it (idempotent opens, replays, reads);
- nothing changes in sittings/attempts/answers/answer_log/audit_log;
- an event sent without an ack callback is ignored.
"""
from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
import socketio
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from fuzzkit import (HallProcess, Phone, answering, check_ack, examples, fast_plan, handler_failures, healthy,
                     snapshot, tally)  # noqa: F401  (tally is a fixture)

PLAN = fast_plan(candidates_per_room=5, rooms=3, duration_minutes=30, earliest_submit_minutes=0.01)
CANDS = PLAN["candidates"]
TOP_SEQ = 2**53 - 1  # the largest seq the protocol allows: every later answer is a replay
SETTINGS = settings(max_examples=examples(40), deadline=None, derandomize=False,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])

HOSTILE = ["", " ", "A", "a", "Ａ", "A ", " A", "A\x00", "AB", "F", "null", "None", "true", "0", "-1", "1e309",
           "NaN", "__proto__", "constructor", "<script>alert(1)</script>", "'; DROP TABLE answers; --",
           "%s%n%x", "../../hall.db", "\u202e", "\ud7ff", "𝔸", "٣", "²", "①", "9" * 70, "x" * 3000,
           "D1S1-R01", "D1S1-R02", "D1S1-R99", CANDS[0]["ticket"], CANDS[5]["ticket"], "{}", "[]"]
scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-2**70, max_value=2**70),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30),
                    st.sampled_from(HOSTILE))
KEYS = ["q", "choice", "seq", "answers", "token", "ticket", "id6", "device", "session", "hidden", "ms",
        "sitting", "__proto__", ""]
json_any = st.recursive(scalars, lambda ch: st.one_of(st.lists(ch, max_size=4),
                                                        st.dictionaries(st.one_of(st.sampled_from(KEYS),
                                                                                  st.text(max_size=8)), ch,
                                                                        max_size=4)), max_leaves=12)
ints = st.one_of(st.integers(min_value=-3, max_value=13), st.sampled_from([TOP_SEQ, 2**53, 2**63, -2**63]))


def with_extra(base: st.SearchStrategy) -> st.SearchStrategy:
    return st.tuples(base, st.dictionaries(st.sampled_from(KEYS), scalars, max_size=2)).map(
        lambda t: {**t[1], **t[0]})


def near_valid(event: str, w) -> st.SearchStrategy:
    if event == "answer":
        well_formed = st.fixed_dictionaries({"q": st.integers(min_value=1, max_value=10),
                                             "choice": st.sampled_from(["A", "B", "C", "D", None]),
                                             "seq": st.integers(min_value=0, max_value=TOP_SEQ)})
        return st.one_of(well_formed, with_extra(st.fixed_dictionaries({
            "q": st.one_of(ints, scalars), "choice": st.one_of(st.sampled_from(["A", "B", "C", "D", "E", None]), scalars),
            "seq": st.one_of(ints, st.integers(min_value=0, max_value=2**53 + 5), scalars)})))
    if event == "submit":
        entry = st.one_of(st.tuples(st.one_of(st.sampled_from(["A", "B", "E", None]), scalars),
                                    st.one_of(ints, scalars)).map(list), json_any)
        key = st.one_of(st.integers(min_value=-1, max_value=12).map(str), st.sampled_from(HOSTILE), st.text(max_size=5))
        return with_extra(st.fixed_dictionaries({"answers": st.one_of(st.dictionaries(key, entry, max_size=4), json_any)}))
    if event == "login":
        tokens = st.sampled_from([w.token_r01, w.token_r02, w.token_expired, w.token_forged, w.token_r01 + "."])
        return with_extra(st.fixed_dictionaries({
            "token": st.one_of(tokens, scalars),
            "ticket": st.one_of(st.sampled_from([c["ticket"] for c in CANDS[:8]]), st.sampled_from(HOSTILE), scalars),
            "id6": st.one_of(st.sampled_from(["000000", CANDS[3]["id_number"][-6:], CANDS[0]["id_number"][-6:]]),
                             scalars),
            "device": st.one_of(st.text(max_size=70), scalars)}))
    if event == "resume":
        sessions = st.sampled_from([w.ans.session, w.ans.session[:-1], w.ans.session + "A", w.sub.session.upper(), ""])
        return with_extra(st.fixed_dictionaries({"session": st.one_of(sessions, scalars),
                                                 "device": st.one_of(st.text(max_size=70), scalars)}))
    if event == "focus":
        return with_extra(st.fixed_dictionaries({"hidden": st.one_of(st.booleans(), scalars),
                                                 "ms": st.one_of(st.integers(min_value=-5, max_value=10**9 + 5), scalars)}))
    if event == "capture_failed":
        return with_extra(st.fixed_dictionaries({"slot": st.one_of(st.integers(min_value=-2, max_value=9), scalars),
                                                 "reason": st.one_of(st.sampled_from(["denied", "dark", "x", ""]),
                                                                     scalars)}))
    if event in STAFF_EVENTS:
        return with_extra(st.fixed_dictionaries({
            "sitting": st.one_of(st.sampled_from(["D1S1-R01", "D1S1-R01 ", "d1s1-r01", "D1S1-R03", "D1S1-R09", "",
                                                  "*", "%"]), scalars),
            **{k: st.one_of(v, scalars, json_any) for k, v in staff_fields(w).items()}}))
    return json_any


STAFF_EVENTS = ["watch", "start_sitting", "end_sitting", "admit_late", "extra_time", "pause", "resume", "violation",
                "incident", "approve_device", "reject_device", "paper_entry", "id_check"]


def staff_fields(w) -> dict:
    """Every field a staff event reads, with near-valid and hostile values."""
    tickets = [c["ticket"] for c in CANDS if c["sitting_id"] == "D1S1-R03"] + [CANDS[0]["ticket"], "nobody"]
    return {
        "ticket": st.sampled_from(tickets),
        "minutes": st.one_of(st.sampled_from([1, 5, 240, 241, 0, -5, 0.001, 1e308, -1e308, 2**63]),
                             st.floats(allow_nan=True, allow_infinity=True)),
        "reason": st.sampled_from(["系统原因", " ", "", "x" * 2001, "<script>", None]),
        "level": st.sampled_from(["minor", "cheating", "MINOR", "", None]),
        "facts": st.sampled_from(["看手机", "", "x" * 2001]),
        "kind": st.sampled_from(["power", "network", "other", "fire", ""]),
        "text": st.sampled_from(["停电 5 分钟", "", "\u0000" * 10]),
        "pass": st.sampled_from([1, 2, 3, 0, True, 1.0, "1"]),
        "answers": st.sampled_from(["ABCDABCDAB", "-" * 10, "abcdabcdab", "A" * 11, "ZZZZZZZZZZ", "", "ＡＢＣＤＡＢＣＤＡＢ"]),
        "release_code": st.sampled_from(["", "0000", "x" * 100]),
        "stage": st.sampled_from(["entry", "during", "exit", "", None]),
        "method": st.sampled_from(["id_card", "other", "photo_waived", "passport", None]),
        "document": st.sampled_from(["驾驶证", "", "x" * 2001, None]),
        "approver": st.sampled_from(["张主任", " ", "x" * 2001, None]),
    }


def valid_login(p) -> bool:
    """Would this payload log somebody in? (The fuzz must not take over real attempts.)"""
    if not isinstance(p, dict) or not all(isinstance(p.get(k), str) for k in ("ticket", "id6")):
        return False
    c = next((c for c in CANDS if c["ticket"] == p["ticket"].strip()), None)
    return c is not None and c["id_number"][-6:].upper() == p["id6"].strip().upper()


@pytest.fixture(scope="module")
def w(tmp_path_factory):
    hall = HallProcess(tmp_path_factory.mktemp("fuzz-ev") / "hall", PLAN,
                       config_extra="[security]\nlogin_max_failures = 1000000\n").start()
    ans = answering(hall, CANDS[0])
    for q in range(1, 11):
        assert ans.call("answer", {"q": q, "choice": "A", "seq": TOP_SEQ})["ok"]
    sub = answering(hall, CANDS[1], start=False)
    time.sleep(0.8)  # earliest submit is 0.6 s
    r = sub.call("submit", {})
    assert r["ok"], r
    anon = Phone(hall, "anon", "anon").connect()
    staff = hall.staff_socket("r02", "r02-pw")
    now = int(time.time())
    good = hall.qr_token("D1S1-R01")
    w = SimpleNamespace(hall=hall, ans=ans, sub=sub, receipt=r["receipt"], anon=anon, staff=staff,
                        token_r01=good, token_r02=hall.qr_token("D1S1-R02"),
                        token_expired=hall.qr_token("D1S1-R01", issued_at=now - 100, expires_at=now - 50),
                        token_forged=good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB"))
    w.before = snapshot(hall)
    w.r03_started, w.r03_cand = False, next(c for c in CANDS if c["sitting_id"] == "D1S1-R03")
    yield w
    for c in (ans, sub, anon):
        c.close()
    staff.disconnect()
    if w.r03_started:
        w.r03.close()
        w.chief.disconnect()
    hall.stop()


# What each (session, event) may answer. ok=None: never ok.
CANDIDATE_EVENTS = ["login", "resume", "confirm", "open", "answer", "submit", "sync", "focus", "capture_failed"]
EXPECT = {
    ("anon", ev): (None, {"bad_request", "not_logged_in", "bad_token", "token_expired", "bad_credentials",
                          "wrong_room", "bad_session", "replaced"})
    for ev in CANDIDATE_EVENTS
}
EXPECT.update({
    ("answering", "confirm"): ("state", {"bad_request"}),
    ("answering", "open"): ("state", {"bad_request"}),
    ("answering", "sync"): ("sync", {"bad_request"}),
    ("answering", "answer"): ("replay", {"bad_request", "bad_question", "bad_choice"}),
    ("answering", "focus"): ("any", {"bad_request"}),
    ("submitted", "answer"): (None, {"bad_request", "bad_question", "bad_choice", "submitted"}),
    ("submitted", "submit"): ("receipt", {"bad_request", "bad_question", "bad_choice"}),
    ("submitted", "open"): ("state", {"bad_request"}),
    ("submitted", "confirm"): ("state", {"bad_request"}),
    ("submitted", "sync"): ("sync", {"bad_request"}),
})
CASES = sorted(EXPECT)


@pytest.mark.parametrize("who,event", CASES, ids=[f"{a}-{b}" for a, b in CASES])
def test_candidate_event_fuzz(w, tally, who, event):
    phone = {"anon": w.anon, "answering": w.ans, "submitted": w.sub}[who]
    allowed_ok, codes = EXPECT[(who, event)]
    status = {"answering": "answering", "submitted": "submitted"}.get(who)

    @SETTINGS
    @given(payload=st.one_of(json_any, near_valid(event, w)))
    def run(payload):
        assume(not (event == "login" and valid_login(payload)))
        ack = phone.sio.call(event, payload, timeout=10)
        code = check_ack(ack)
        if code is not None:
            assert code in codes, (event, payload, ack)
            tally.add(f"sio {who}:{event}", "rejected")
            return
        assert allowed_ok, (event, payload, ack)
        if allowed_ok == "state":
            assert ack["state"]["status"] == status, ack
        elif allowed_ok == "replay":
            assert ack["choice"] == "A" and ack["seq"] == TOP_SEQ and ack["q"] == payload["q"], (payload, ack)
        elif allowed_ok == "receipt":
            assert ack["receipt"] == w.receipt and ack["state"]["status"] == "submitted", ack
        elif allowed_ok == "sync":
            assert ack["state"]["status"] == status
        tally.add(f"sio {who}:{event}", "accepted_noop")

    run()
    # An event without an ack callback is ignored, whatever it carries.
    for p in ({"q": 1, "choice": "B", "seq": 1}, {}, None, "x", [1, 2]):
        phone.sio.emit(event, p)
        tally.add(f"sio {who}:{event}", "no_ack_ignored")
    assert phone.call("sync")["ok"] == (who != "anon")  # the connection still works
    assert snapshot(w.hall) == w.before


@pytest.mark.parametrize("event", STAFF_EVENTS)
def test_staff_event_fuzz(w, tally, event):
    """An invigilator of room 2 fuzzing staff events aimed anywhere but room 2: all refused."""

    @SETTINGS
    @given(payload=st.one_of(json_any, near_valid(event, w)))
    def run(payload):
        assume(not (isinstance(payload, dict) and isinstance(payload.get("sitting"), str)
                    and payload["sitting"] == "D1S1-R02"))
        ack = w.staff.call(event, payload, namespace="/staff", timeout=10)
        code = check_ack(ack)
        assert code in {"bad_request", "unknown_sitting", "forbidden"}, (payload, ack)
        tally.add(f"sio staff(r02):{event}", "rejected")

    run()
    assert snapshot(w.hall) == w.before


@pytest.mark.parametrize("event", [e for e in STAFF_EVENTS if e not in CANDIDATE_EVENTS] + ["state", "replaced", "approved", "rejected", "candidate", "sitting",
                                                  "fault", "message", "*", "__proto__"])
def test_phone_gets_no_handler_for_staff_or_server_events(w, tally, event):
    """Staff events (and names only the server sends) from a phone on '/' reach no handler:
    no ack, nothing changes."""
    for who, phone in (("anon", w.anon), ("answering", w.ans)):
        with pytest.raises(socketio.exceptions.TimeoutError):
            phone.sio.call(event, {"sitting": "D1S1-R01"}, timeout=0.3)
        tally.add(f"sio phone:{event}", "rejected")
    assert snapshot(w.hall) == w.before


CHIEF_EVENTS = ["admit_late", "extra_time", "pause", "resume", "violation", "incident", "approve_device",
                "reject_device", "paper_entry", "watch", "start_sitting", "id_check"]


@pytest.mark.parametrize("event", CHIEF_EVENTS)
def test_chief_room_actions_with_hostile_fields(w, tally, event):
    """The chief, on room 3 (started, one candidate answering), with every field hostile:
    a documented ack every time, and the room stays consistent. Runs after the tests above,
    which compare snapshots: this one is allowed to change room 3."""
    if not w.r03_started:
        w.hall.start_sitting("D1S1-R03")
        w.r03 = answering(w.hall, w.r03_cand, start=False)
        w.r03_started = True
        w.chief = w.hall.staff_socket()

    @SETTINGS
    @given(payload=near_valid(event, w))
    def run(payload):
        payload = {**payload, "sitting": "D1S1-R03"}
        ack = w.chief.call(event, payload, namespace="/staff", timeout=10)
        code = check_ack(ack)
        tally.add(f"sio chief R03:{event}", "rejected" if code else "accepted")

    run()
    with w.hall.db() as db:
        for a in db.execute("SELECT * FROM attempts WHERE sitting_id = 'D1S1-R03'"):
            if a["deadline_at"] is not None:
                assert a["deadline_at"] == a["deadline_at"] and a["deadline_at"] > a["opened_at"], dict(a)
        s = db.execute("SELECT * FROM sittings WHERE sitting_id = 'D1S1-R03'").fetchone()
        assert s["paused_total_s"] >= 0 and s["status"] in ("started", "paused", "ended"), dict(s)
        r01 = [tuple(r) for r in db.execute("SELECT * FROM attempts WHERE sitting_id = 'D1S1-R01' ORDER BY ticket")]
    assert r01 == [a for a in w.before["attempts"] if a[1] == "D1S1-R01"]
    assert w.r03.call("sync")["ok"]


def test_server_survived_the_fuzz(w):
    assert healthy(w.hall)
    assert w.ans.call("sync")["answers"] == {str(q): ["A", TOP_SEQ] for q in range(1, 11)}
    # The handlers' safety net (acks.handler) should never have been needed: each logged
    # failure is hostile input reaching code that did not expect it.
    failures = handler_failures(w.hall)
    print(f"\nhandler safety-net catches during the fuzz: {len(failures)}")
    for line in sorted(set(failures)):
        print("  ", line)
    # Known and reported (xfail in test_targeted.py::test_hostile_field_types_are_refused_before_they_raise).
    known = ("unhashable type", "invalid literal for int()")
    unexpected = [line for line in failures if not any(k in line for k in known)]
    assert not unexpected, unexpected[:5]
