"""The candidate protocol against the real server under eventlet, over loopback."""
import time

import requests

from factories import fast_plan
from hallproc import HallProcess, Phone


def _cand(plan, i=0):
    c = plan["candidates"][i]
    return c["ticket"], c["id_number"][-6:], c["sitting_id"]


def _answering_phone(hall, plan, i=0, start=True) -> Phone:
    ticket, id6, sitting = _cand(plan, i)
    p = Phone(hall, ticket, id6).connect()
    assert p.login(sitting)["ok"]
    assert p.call("confirm")["ok"]
    if start:
        hall.start_sitting(sitting)
    r = p.call("open")
    assert r["ok"], r
    return p


def test_full_flow_with_paper_and_receipt(hall, plan):
    ticket, id6, sitting = _cand(plan)
    p = Phone(hall, ticket, id6).connect()
    r = p.login(sitting)
    assert r["ok"] and r["candidate"]["name"] == plan["candidates"][0]["name"]
    assert r["candidate"]["category"] == plan["candidates"][0]["category"]
    assert r["state"]["status"] == "logged_in" and r["state"]["sitting"]["status"] == "planned"
    # The paper is not readable before the candidate opens it.
    auth = {"Authorization": f"Bearer {p.session}"}
    assert requests.get(hall.url + "/api/paper", headers=auth).status_code == 409
    assert p.call("open")["error"]["code"] == "not_confirmed"
    assert p.call("confirm")["ok"]
    assert p.call("open")["error"]["code"] == "not_started"
    hall.start_sitting(sitting)
    time.sleep(0.2)
    assert any(ev == "state" and d["sitting"]["status"] == "started" for ev, d in p.pushed)
    r = p.call("open")
    assert r["ok"] and r["state"]["deadline"] - r["state"]["opened_at"] == 60 * 60 * 1000
    again = p.call("open")
    assert again["state"]["deadline"] == r["state"]["deadline"]  # idempotent
    resp = requests.get(hall.url + "/api/paper", headers=auth)
    assert resp.status_code == 200
    paper = resp.json()
    assert len(paper["questions"]) == 10 and "key" not in resp.text.lower().replace('"key":"', "")
    # the paper carries no answer key: questions hold only what a phone shows, options only key and text
    assert all(set(q) <= {"no", "stem", "image", "options", "qtype", "group", "group_stem"} for q in paper["questions"])
    assert all(set(o) == {"key", "text"} for q in paper["questions"] for o in q["options"])
    assert not {"keys", "key", "answers", "answer_key"} & set(paper)
    assert requests.get(hall.url + "/api/paper", headers={**auth, "If-None-Match": resp.headers["ETag"]}).status_code == 304
    assert requests.get(hall.url + "/api/paper", headers={"Authorization": "Bearer forged"}).status_code == 401
    # Answer every question correctly: the score is computed on the appliance.
    key = plan["keys"][ticket]
    for q, k in enumerate(key, start=1):
        assert p.answer(q, k)["ok"]
    r = p.call("submit", {})
    assert r["error"]["code"] == "too_early" and r["error"]["earliest_submit"] > r["now"]
    with hall.db() as db:
        row = db.execute("SELECT status, score FROM attempts WHERE ticket=?", (ticket,)).fetchone()
    assert row["status"] == "answering" and row["score"] is None


def test_answers_are_idempotent_and_latest_choice_wins(tmp_path):
    # earliest submit at opening: the rule itself is test_exam_rules.py's, with the real 15 minutes
    plan = fast_plan(duration_minutes=5, earliest_submit_minutes=0)
    hall = HallProcess(tmp_path / "h", plan).start()
    try:
        p = _answering_phone(hall, plan)
        assert p.call("answer", {"q": 1, "choice": "A", "seq": 5}) ["choice"] == "A"
        assert p.call("answer", {"q": 1, "choice": "B", "seq": 7})["choice"] == "B"
        replay = p.call("answer", {"q": 1, "choice": "A", "seq": 5})  # a late duplicate
        assert replay["ok"] and replay["choice"] == "B" and replay["seq"] == 7
        assert p.call("answer", {"q": 1, "choice": None, "seq": 8})["choice"] is None  # cleared
        assert p.call("answer", {"q": 2, "choice": "C", "seq": 9})["ok"]
        s = p.call("sync")
        assert s["answers"] == {"1": [None, 8], "2": ["C", 9]} and s["state"]["answered"] == 1
        # The submit carries what the phone holds; a stale entry does not win.
        r = p.call("submit", {"answers": {"2": ["A", 3], "3": ["D", 10]}})
        assert r["ok"], r
        again = p.call("submit", {"answers": {"4": ["A", 11]}})
        assert again["ok"] and again["receipt"] == r["receipt"]
        assert p.call("answer", {"q": 5, "choice": "A", "seq": 12})["error"]["code"] == "submitted"
        with hall.db() as db:
            rows = dict((q, c) for q, c in db.execute("SELECT q, choice FROM answers WHERE ticket=?", (p.ticket,)))
            a = db.execute("SELECT status, receipt, answered FROM attempts WHERE ticket=?", (p.ticket,)).fetchone()
        assert rows == {1: None, 2: "C", 3: "D"}
        assert a["status"] == "submitted" and a["receipt"] == r["receipt"] and a["answered"] == 2
    finally:
        hall.stop()


def test_time_up_submits_without_the_phone_and_refuses_later_answers(tmp_path):
    """End to end: the server's own sweeper seals a dead phone's paper at its deadline, and
    the phone logging in again is told. The rule's detail (answers up to the deadline, the
    sweep, pauses, extra time) with a 60-minute paper: test_exam_rules.py."""
    plan = fast_plan(duration_minutes=0.02)  # a 1-second paper (whole seconds)
    hall = HallProcess(tmp_path / "h", plan).start()
    try:
        p = _answering_phone(hall, plan)
        p.close()  # the phone dies
        deadline = time.monotonic() + 15
        while True:
            with hall.db() as db:
                a = db.execute("SELECT status, submit_reason, receipt, deadline_at, submitted_at FROM attempts"
                               " WHERE ticket=?", (p.ticket,)).fetchone()
            if a["status"] != "answering" or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert a["status"] == "submitted" and a["submit_reason"] == "time_up" and a["receipt"]
        assert a["submitted_at"] == a["deadline_at"]
        p2 = Phone(hall, p.ticket, p.id6, device=p.device).connect()
        r = p2.login(plan["candidates"][0]["sitting_id"])
        assert r["ok"] and r["state"]["status"] == "submitted" and r["state"]["receipt"] == a["receipt"]
        p2.seq = 100
        assert p2.answer(2, "B")["error"]["code"] in ("submitted", "time_up")
    finally:
        hall.stop()


# Late entry: tests/core/test_exam_rules.py (the 10-minute limit, pauses, 缺考, 准许迟到入场).


def test_login_refusals_change_nothing(hall, plan):
    ticket, id6, sitting = _cand(plan)
    other_room_ticket, other_id6, other_sitting = _cand(plan, len(plan["candidates"]) - 1)
    p = Phone(hall, ticket, id6).connect()
    good = hall.qr_token(sitting)
    forged = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    cases = {
        "bad_token": [forged, "x", "", "a.b", "." * 300, 12345, None],
        "token_expired": [hall.qr_token(sitting, issued_at=1, expires_at=2)],
    }
    for code, tokens in cases.items():
        for t in tokens:
            r = p.call("login", {"token": t, "ticket": ticket, "id6": id6, "device": "d"})
            assert not r["ok"] and r["error"]["code"] == code, (t, r)
    # A token signed by another site's key.
    from hall_server.auth import qr_tokens
    from factories import keypair

    foreign = qr_tokens.issue(qr_tokens.private_key(keypair(99)["private"]), "1", sitting, int(time.time()),
                              int(time.time()) + 600)
    assert p.call("login", {"token": foreign, "ticket": ticket, "id6": id6, "device": "d"})["error"]["code"] == "bad_token"
    # Someone else's ticket with the right room but wrong digits, and a ticket of another room.
    assert p.call("login", {"token": good, "ticket": ticket, "id6": "000000", "device": "d"})["error"]["code"] == "bad_credentials"
    r = p.call("login", {"token": good, "ticket": other_room_ticket, "id6": other_id6, "device": "d"})
    assert r["error"]["code"] == "wrong_room"
    for bad in [None, [], "x", {"token": good, "ticket": ["a"], "id6": id6, "device": "d"},
                {"token": good, "ticket": "9" * 1000, "id6": id6, "device": "d"}]:
        r = p.call("login", bad)
        assert not r["ok"] and r["error"]["code"] in ("bad_request", "bad_credentials")
    with hall.db() as db:
        assert db.execute("SELECT COUNT(*) FROM attempts").fetchone()[0] == 0
    # Events before login are refused.
    for ev in ("confirm", "open", "sync", "submit"):
        assert p.call(ev)["error"]["code"] == "not_logged_in"
    assert p.call("answer", {"q": 1, "choice": "A", "seq": 1})["error"]["code"] == "not_logged_in"


def test_guessing_id_digits_is_rate_limited(hall, plan):
    ticket, id6, sitting = _cand(plan, 1)
    p = Phone(hall, ticket, id6).connect()
    token = hall.qr_token(sitting)
    codes = [p.call("login", {"token": token, "ticket": ticket, "id6": f"{i:06d}", "device": "d"})["error"]["code"]
             for i in range(8)]
    assert codes[:5] == ["bad_credentials"] * 5 and codes[5:] == ["rate_limited"] * 3
    r = p.call("login", {"token": token, "ticket": ticket, "id6": id6, "device": "d"})
    assert r["error"]["code"] == "rate_limited" and r["error"]["retry_after"] > 0  # even the right digits wait


def test_bad_answers_change_nothing(tmp_path):
    plan = fast_plan(duration_minutes=5)
    hall = HallProcess(tmp_path / "h", plan).start()
    try:
        p = _answering_phone(hall, plan)
        bad = [
            ({"q": 0, "choice": "A", "seq": 1}, "bad_question"),
            ({"q": 11, "choice": "A", "seq": 1}, "bad_question"),
            ({"q": 2, "choice": "E", "seq": 1}, "bad_choice"),  # q2 has only A-D
            ({"q": 1, "choice": "a", "seq": 1}, "bad_choice"),
            ({"q": "1", "choice": "A", "seq": 1}, "bad_request"),
            ({"q": 1, "choice": "A", "seq": -1}, "bad_request"),
            ({"q": 1, "choice": "A", "seq": 2**60}, "bad_request"),
            ({"q": 1, "choice": ["A"], "seq": 1}, "bad_request"),
            ({"q": True, "choice": "A", "seq": 1}, "bad_request"),
        ]
        for payload, code in bad:
            r = p.call("answer", payload)
            assert not r["ok"] and r["error"]["code"] == code, (payload, r)
        assert p.call("answer", "garbage")["error"]["code"] == "bad_request"
        assert p.call("submit", {"answers": {"1": "A"}})["error"]["code"] == "bad_request"
        assert p.call("submit", {"answers": {"99": ["A", 1]}})["error"]["code"] == "bad_question"
        with hall.db() as db:
            assert db.execute("SELECT COUNT(*) FROM answers").fetchone()[0] == 0
            assert db.execute("SELECT status FROM attempts").fetchone()[0] == "answering"
    finally:
        hall.stop()
