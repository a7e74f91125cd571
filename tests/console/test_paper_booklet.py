"""Issue 17 item 4: the paper fallback works without phones. A candidate's own question
booklet (试题册) prints beside their answer card, only after the sitting's papers are
released (a sealed bundle here: before 宣布开考 the console offers no booklet and the route
refuses), audited; read back from the PDF it is that candidate's paper, in their order,
and not another's; it never reads the key."""
from __future__ import annotations

import io
import json
import random
import re
import sqlite3

import pdfplumber
import pytest

from console_support import console_login, laptop_browser, shot
from factories import make_plan
from hallproc import HallProcess

pytestmark = pytest.mark.browser
S1 = "D1S1-R01"
WORDS = "心肝脾肺肾胃肠胆膀胱血脉骨髓筋膜皮毛"


def distinct_papers(plan: dict, seed: int = 5) -> dict:
    """Give every candidate a paper of their own: own stems, shuffled options."""
    rng = random.Random(seed)
    for c in plan["candidates"]:
        t = c["ticket"]
        qs, key = [], []
        for n in range(1, len(plan["papers"][t]["questions"]) + 1):
            word = "".join(rng.choice(WORDS) for _ in range(4))
            opts = [f"{word}选项{k}{rng.randint(100, 999)}" for k in "ABCD"]
            qs.append({"no": n, "stem": f"【{t[-6:]}卷】第{n}题 关于{word}的说法", "image": None,
                       "options": [{"key": k, "text": o} for k, o in zip("ABCD", opts)]})
            key.append(rng.choice("ABCD"))
        plan["papers"][t] = {"questions": qs}
        plan["keys"][t] = key
    return plan


def pdf_text(data: bytes) -> str:
    with pdfplumber.open(io.BytesIO(data)) as doc:
        return "\n".join(p.extract_text() or "" for p in doc.pages)


def assert_is_paper_of(text: str, paper: dict) -> None:
    flat = re.sub(r"\s+", "", text)
    pos = -1
    for q in paper["questions"]:
        at = flat.find(re.sub(r"\s+", "", f"{q['no']}.{q['stem']}"), pos + 1)
        assert at > pos, f"question {q['no']} missing or out of order"
        pos = at
        for o in q["options"]:
            at = flat.find(f"{o['key']}.{o['text']}", pos)
            assert at > pos, f"option {o['key']} of question {q['no']} missing or out of order"
            pos = at


def test_booklet_only_after_release_is_that_candidates_paper(tmp_path):
    from hall_server.importer import import_bundle
    from contracts.keys import CENTRAL_PRIVATE, CENTRAL_PUBLIC, keygen
    from provisioning.provision import seal_plan

    plan = distinct_papers(make_plan(candidates_per_room=3, rooms=2, questions=12))
    keygen(tmp_path / "keys")
    _, codes = seal_plan(plan, tmp_path / "keys" / CENTRAL_PRIVATE, tmp_path / "site.hallbundle",
                         kdf={"name": "scrypt", "n": 2 ** 4, "r": 8, "p": 1})
    import_bundle(tmp_path / "h" / "hall.db", tmp_path / "site.hallbundle", tmp_path / "keys" / CENTRAL_PUBLIC)
    a, b, _ = [c for c in plan["candidates"] if c["sitting_id"] == S1]
    hall = HallProcess(tmp_path / "h").start()
    try:
        chief = hall.staff_session()
        url = f"{hall.url}/console/sitting/{S1}/print/booklet.pdf?ticket={a['ticket']}"
        sealed = chief.get(url)
        assert sealed.status_code == 409 and "尚未开考" in sealed.text and not sealed.content.startswith(b"%PDF")
        with laptop_browser() as page:
            console_login(page, hall.url)
            page.goto(f"{hall.url}/console/sitting/{S1}")
            page.wait_for_selector(f"#c-{a['ticket']}")
            page.click(f"#c-{a['ticket']} button.act")
            page.click("button[data-open=paper]")
            assert not page.is_visible("#print-booklet") and "开考（试卷解封）后" in page.inner_text("#booklet-note")
            assert page.is_visible("#print-card")
            shot(page, "booklet-before-release")
            page.click("#act-close")
            page.click("#start")
            page.check("input[name=confirm_date]")
            page.fill("input[name=release_code]", codes[S1])
            page.click("button[data-room=start_sitting]")
            page.wait_for_selector("#sitting-status:has-text('考试中')")
            page.click(f"#c-{a['ticket']} button.act")
            page.click("button[data-open=paper]")
            assert page.is_visible("#print-booklet")
            shot(page, "booklet-after-release")
            booklet = page.request.get(hall.url + page.get_attribute("#print-booklet", "href"))
            card = page.request.get(hall.url + page.get_attribute("#print-card", "href"))
            assert booklet.status == 200 and booklet.headers["content-type"] == "application/pdf"
            text, card_text = pdf_text(booklet.body()), pdf_text(card.body())
        assert_is_paper_of(text, plan["papers"][a["ticket"]])
        with pytest.raises(AssertionError):
            assert_is_paper_of(text, plan["papers"][b["ticket"]])
        assert f"【{b['ticket'][-6:]}卷】" not in text and a["name"] in text and a["ticket"] in text
        assert "".join(plan["keys"][a["ticket"]]) not in re.sub(r"\s+", "", text) and "答案：" not in text
        # the answer card beside it: same candidate, same number of questions
        assert a["ticket"] in card_text and f"本卷共 {len(plan['papers'][a['ticket']]['questions'])} 题" in card_text
        # the other room's papers are still sealed: no booklet for them
        other = next(c for c in plan["candidates"] if c["sitting_id"] != S1)
        r = chief.get(f"{hall.url}/console/sitting/{other['sitting_id']}/print/booklet.pdf?ticket={other['ticket']}")
        assert r.status_code == 409
        # an invigilator of another room may not print this room's booklets
        inv = hall.staff_session("r02", "r02-pw")
        assert inv.get(url).status_code == 403
        assert hall.staff_session("r01", "r01-pw").get(url).status_code == 200
    finally:
        hall.stop()
    with hall.db() as db:
        rows = db.execute("SELECT actor, sitting_id, data FROM audit_log WHERE action = 'print_booklet'").fetchall()
    assert [(r["actor"], r["sitting_id"], json.loads(r["data"])) for r in rows] == [
        ("staff:chief", S1, {"tickets": [a["ticket"]]}), ("staff:r01", S1, {"tickets": [a["ticket"]]})]


def test_the_booklet_never_reads_the_key(tmp_path):
    """Rendered on a connection that refuses every read of paper_keys: it still prints."""
    from hall_server.importer import import_plan
    from hall_server.printing.booklet import question_booklet

    plan = distinct_papers(make_plan(candidates_per_room=2, rooms=1, questions=6))
    import_plan(tmp_path / "hall.db", plan)
    conn = sqlite3.connect(tmp_path / "hall.db")
    conn.set_authorizer(lambda op, table, *_: sqlite3.SQLITE_DENY if table == "paper_keys" else sqlite3.SQLITE_OK)
    conn.execute("BEGIN")      # read on this connection, under its authorizer
    with pytest.raises(sqlite3.DatabaseError):
        conn.execute("SELECT * FROM paper_keys").fetchall()
    t = plan["candidates"][0]["ticket"]
    assert_is_paper_of(pdf_text(question_booklet(conn, S1, [t])), plan["papers"][t])
