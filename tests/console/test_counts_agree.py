"""Issue 13 item 4: 应到/实到/缺考 on the console, on the printed room record and in the
result bundle are one count (hall_server/exam/counts.py). Chromium drives the console at
1366x768; the PDF is read back; the bundle is exported by the console's button."""
import io
import json
import re
import time

import pdfplumber
import pytest

from console_support import console_login, laptop_browser, shot
from factories import make_plan
from hallproc import HallProcess, Phone

pytestmark = pytest.mark.browser
S1 = "D1S1-R01"


def _counts(page) -> dict:
    return {k: int(page.inner_text(f"#n-{k}")) for k in ("expected", "present", "absent", "pending")}


def _room_record_text(chief, hall) -> str:
    r = chief.get(f"{hall.url}/console/sitting/{S1}/print/room-record.pdf")
    assert r.status_code == 200
    with pdfplumber.open(io.BytesIO(r.content)) as pdf:
        return "\n".join(p.extract_text() or "" for p in pdf.pages)


def test_counts_agree_when_a_sitting_ends_before_the_late_entry_limit(tmp_path):
    plan = make_plan(candidates_per_room=4, rooms=1, late_entry_minutes=10)
    cands = [c for c in plan["candidates"] if c["sitting_id"] == S1]
    a, b, c, d = cands
    hall = HallProcess(tmp_path / "h", plan).start()
    phones = []
    try:
        with laptop_browser() as page:
            prompts = {"text": "停电"}
            page.on("dialog", lambda dlg: dlg.accept(prompts["text"]))
            console_login(page, hall.url)
            page.click(f"a[href='/console/sitting/{S1}']")
            page.wait_for_selector("#sitting-status:has-text('未开考')")
            page.click("#start")
            page.check("input[name=confirm_date]")         # test plans are dated 2030
            page.click("button[data-room=start_sitting]")
            page.wait_for_selector("#sitting-status:has-text('考试中')")
            # a opens the paper and answers; b logs in and confirms but never opens it
            for who, opens in ((a, True), (b, False)):
                p = Phone(hall, who["ticket"], who["id_number"][-6:]).connect()
                phones.append(p)
                assert p.login(S1)["ok"] and p.call("confirm")["ok"]
                if opens:
                    assert p.call("open")["ok"] and p.answer(1, "A")["ok"]
            page.wait_for_function("document.getElementById('n-present').textContent === '1'")
            assert _counts(page) == {"expected": 4, "present": 1, "absent": 0, "pending": 3}
            chief = hall.staff_session()
            text = _room_record_text(chief, hall)
            assert "另有 3 人尚未入场" in text, text
            # a power cut of a couple of seconds
            page.click("#pause")
            page.click("button[data-room=pause]")
            page.wait_for_selector("#sitting-status:has-text('暂停中')")
            time.sleep(2.2)
            page.click("#resume")
            page.wait_for_selector("#sitting-status:has-text('考试中')")
            # the room ends before the 10-minute late-entry limit
            page.click("#end")
            page.click("button[data-room=end_sitting]")
            page.wait_for_selector("#sitting-status:has-text('已结束')")
            page.wait_for_function("document.getElementById('n-absent').textContent === '3'")
            assert _counts(page) == {"expected": 4, "present": 1, "absent": 3, "pending": 0}
            page.click(".filters button[data-filter=absent]")
            shown = sorted(t.get_attribute("id")[2:] for t in page.locator("#roster tbody tr").all())
            assert shown == sorted([b["ticket"], c["ticket"], d["ticket"]])
            shot(page, "counts-ended-before-late-entry")

        text = _room_record_text(chief, hall)
        flat = re.sub(r"\s+", " ", text)
        assert re.search(r"应到人数 4 实到人数 1", flat), flat
        assert "共 3 人" in flat
        for who in (b, c, d):
            assert who["ticket"] in flat
        assert "0 分钟" not in flat and re.search(r"【暂停考试】[23] 秒", flat), flat

        r = chief.post(hall.url + "/console/export")
        name = r.text.split('id="export-file" class="mono">')[1].split("<")[0]
        payload = json.loads(chief.get(f"{hall.url}/console/outbox/{name}").content)["payload"]
        rec = next(x for x in payload["room_records"] if x["sitting_id"] == S1)
        assert (rec["expected"], rec["present"], rec["pending"]) == (4, 1, 0)
        assert sorted(x["ticket"] for x in rec["absentees"]) == sorted([b["ticket"], c["ticket"], d["ticket"]])
        assert payload["counts"]["absent"] == 3
    finally:
        for p in phones:
            p.close()
        hall.stop()


def test_a_candidate_who_never_opened_is_absent_after_the_late_entry_limit(tmp_path):
    """Late entry 3 s: the logged-in candidate who did not open the paper becomes 缺考 on
    the console without anyone touching it, and the form agrees."""
    plan = make_plan(candidates_per_room=3, rooms=1, late_entry_minutes=0.05)
    a, b, c = [x for x in plan["candidates"] if x["sitting_id"] == S1]
    hall = HallProcess(tmp_path / "h", plan).start()
    phones = []
    try:
        with laptop_browser() as page:
            console_login(page, hall.url)
            page.goto(f"{hall.url}/console/sitting/{S1}")
            page.wait_for_selector("#sitting-status:has-text('未开考')")
            assert hall.start_sitting(S1)["ok"]
            for who, opens in ((a, True), (b, False)):
                p = Phone(hall, who["ticket"], who["id_number"][-6:]).connect()
                phones.append(p)
                assert p.login(S1)["ok"] and p.call("confirm")["ok"]
                if opens:
                    assert p.call("open")["ok"]
            page.wait_for_function("document.getElementById('n-absent').textContent === '2'", timeout=15000)
            assert _counts(page) == {"expected": 3, "present": 1, "absent": 2, "pending": 0}
        flat = re.sub(r"\s+", " ", _room_record_text(hall.staff_session(), hall))
        assert re.search(r"应到人数 3 实到人数 1", flat) and "共 2 人" in flat, flat
        assert b["ticket"] in flat and c["ticket"] in flat
    finally:
        for p in phones:
            p.close()
        hall.stop()
