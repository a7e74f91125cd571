"""Issue 17 items 1-3: one candidate stopped, moved or rescheduled, end to end.

Chromium taps the console at 1366x768 and a phone at 360x640; the real server runs under
eventlet on a real SQLite file; the room records are read back from their PDFs and the
result bundle from the console's export; for 待重考 the bundle goes on to the real central
service, which must take it and list the candidate as 待重考, neither 缺考 nor failed."""
from __future__ import annotations

import io
import json
import re

import pdfplumber
import pytest

from console_support import CHROMIUM, CHROMIUM_ARGS, LAPTOP, Centre, console_login, shot, wait_for
from factories import make_plan
from hallproc import HallProcess, Phone

pytestmark = pytest.mark.browser
S1, S2 = "D1S1-R01", "D1S1-R02"


def record_text(session, hall, sitting_id) -> str:
    r = session.get(f"{hall.url}/console/sitting/{sitting_id}/print/room-record.pdf")
    assert r.status_code == 200
    with pdfplumber.open(io.BytesIO(r.content)) as pdf:
        return re.sub(r"\s+", "", "\n".join(p.extract_text() or "" for p in pdf.pages))   # a wrapped line is one


def exported(session, hall) -> dict:
    r = session.post(hall.url + "/console/export")
    name = r.text.split('id="export-file" class="mono">')[1].split("<")[0]
    return json.loads(session.get(f"{hall.url}/console/outbox/{name}").content)["payload"]


class Browser:
    """One Chromium, a laptop page and a phone page."""

    def __enter__(self):
        from playwright.sync_api import sync_playwright

        self.pw = sync_playwright().start()
        self.browser = self.pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        self.laptop = self.browser.new_context(viewport=LAPTOP, locale="zh-CN",
                                               timezone_id="Asia/Shanghai").new_page()
        self.phone = self.browser.new_context(viewport={"width": 360, "height": 640}, locale="zh-CN",
                                              timezone_id="Asia/Shanghai", has_touch=True,
                                              is_mobile=True).new_page()
        for p in (self.laptop, self.phone):
            p.set_default_timeout(15000)
        return self

    def __exit__(self, *exc):
        self.browser.close()
        self.pw.stop()


def phone_logs_in_and_answers(page, hall, c, keys=("A",)):
    page.goto(f"{hall.url}/r/{hall.qr_token(c['sitting_id'])}")
    page.fill("#ticket", c["ticket"])
    page.fill("#id6", c["id_number"][-6:])
    page.click("#login-btn")
    page.click("#confirm-btn")
    page.click("#open-btn")
    page.wait_for_selector("#qno")
    for i, k in enumerate(keys):
        page.click(f".opt[data-key='{k}']")
        page.wait_for_selector("#savestate:has-text('已保存')", timeout=10000)
        if i + 1 < len(keys):
            page.click("#next-btn")


def act(page, ticket: str, task: str) -> None:
    page.click(f"#c-{ticket} button.act")
    page.click(f"#act-choose button[data-open={task}]")


def start_in_console(page, hall, sitting_id) -> None:
    page.goto(f"{hall.url}/console/sitting/{sitting_id}")
    page.click("#start")
    page.check("input[name=confirm_date]")
    page.click("button[data-room=start_sitting]")
    page.wait_for_selector("#sitting-status:has-text('考试中')")


def test_stop_one_candidate_is_handed_in_and_recorded_not_as_a_violation(tmp_path):
    plan = make_plan(candidates_per_room=3, rooms=1)
    a, b, _ = [c for c in plan["candidates"] if c["sitting_id"] == S1]
    hall = HallProcess(tmp_path / "h", plan).start()
    other = None
    try:
        with Browser() as br:
            console_login(br.laptop, hall.url)
            start_in_console(br.laptop, hall, S1)
            phone_logs_in_and_answers(br.phone, hall, a, ("A", "B"))
            other = Phone(hall, b["ticket"], b["id_number"][-6:]).connect()
            assert other.login(S1)["ok"] and other.call("confirm")["ok"]
            # not answering yet: nothing to hand in, nothing changes
            r = hall.staff_socket().call("stop_attempt", {"sitting": S1, "ticket": b["ticket"], "reason": "sick"},
                                         namespace="/staff")
            assert r["error"]["code"] == "bad_state"
            page = br.laptop
            page.wait_for_function(f"document.querySelector('#c-{a['ticket']} td:nth-child(5)').textContent === '答题中'")
            act(page, a["ticket"], "stop")
            page.check("input[name=stop_reason][value=sick]")
            page.fill("input[name=stop_text]", "头晕呕吐，校医陪同离开")
            page.click("button[data-do=stop_attempt]")          # without the tick: refused in the form
            assert "请先勾选确认" in page.inner_text("#act-msg")
            page.check("input[name=stop_ok]")
            shot(page, "stop-form")
            page.click("button[data-do=stop_attempt]")
            page.wait_for_selector("#act-msg.okmsg")
            page.click("#act-close")
            cell = f"#c-{a['ticket']} td:nth-child(5)"
            page.wait_for_function(f"document.querySelector({cell!r}).textContent.indexOf('已交卷（停考：身体不适') === 0")
            assert page.inner_text(f"#c-{a['ticket']} td:nth-child(11)") == ""      # no violation
            shot(page, "stop-roster")
            br.phone.wait_for_selector("text=监考老师已为您停考并代为交卷")
            receipt = br.phone.inner_text("#receipt-code")
            shot(br.phone, "stop-phone")
        chief = hall.staff_session()
        text = record_text(chief, hall, S1)
        assert (f"【停考/代为交卷】{a['ticket']}{a['name']}：身体不适，劝其停考：头晕呕吐，校医陪同离开"
                f"（已答2题，回执{receipt}）") in text, text
        # a cell's text comes out before its label: the violations' cell is 无
        assert "（缺考考生准考证号及姓名）无违纪记录" in text, text
        payload = exported(chief, hall)
        att = next(x for x in payload["attempts"] if x["ticket"] == a["ticket"])
        assert (att["status"], att["submit_reason"], att["receipt"]) == ("submitted", "staff", receipt)
        assert [(e["ticket"], e["kind"]) for e in payload["exceptions"]] == [(a["ticket"], "stop")]
        assert not payload["violations"]
        rec = next(x for x in payload["room_records"] if x["sitting_id"] == S1)
        assert any(a["ticket"] in line and "停考" in line for line in rec["other"]), rec["other"]
    finally:
        if other:
            other.close()
        hall.stop()


def test_move_a_candidate_the_attempt_answers_and_room_checks_follow(tmp_path):
    plan = make_plan(candidates_per_room=3, rooms=2)
    a, b, _ = [c for c in plan["candidates"] if c["sitting_id"] == S1]
    hall = HallProcess(tmp_path / "h", plan).start()
    try:
        with Browser() as br:
            page = br.laptop
            console_login(page, hall.url)
            start_in_console(page, hall, S2)
            start_in_console(page, hall, S1)
            phone_logs_in_and_answers(br.phone, hall, a, ("C",))
            with hall.db() as db:
                deadline = db.execute("SELECT deadline_at FROM attempts WHERE ticket=?", (a["ticket"],)).fetchone()[0]
            page.wait_for_function(f"document.querySelector('#c-{a['ticket']} td:nth-child(5)').textContent === '答题中'")
            act(page, a["ticket"], "move")
            page.select_option("select[name=to_sitting]", S2)
            page.fill("input[name=seat_no]", "9")
            page.fill("input[name=move_reason]", "座位损坏")
            shot(page, "move-form")
            page.click("button[data-do=move_candidate]")
            page.wait_for_selector("#act-msg.okmsg")
            assert "第2考场" in page.inner_text("#act-msg") and "座位 9" in page.inner_text("#act-msg")
            page.click("#act-close")
            page.wait_for_selector(f"#c-{a['ticket']}", state="detached")     # gone from room 1
            assert page.inner_text("#n-expected") == "2"
            # B had not come yet: moved before logging in
            act(page, b["ticket"], "move")
            page.select_option("select[name=to_sitting]", S2)
            page.fill("input[name=move_reason]", "走错考场")
            page.click("button[data-do=move_candidate]")
            page.wait_for_selector("#act-msg.okmsg")
            page.click("#act-close")
            page.goto(f"{hall.url}/console/sitting/{S2}")
            page.wait_for_selector(f"#c-{a['ticket']}")
            row = page.inner_text(f"#c-{a['ticket']}")
            assert row.startswith("9") and "答题中（由第1考场 第1场" in row and "1 题" in row, row
            assert page.inner_text("#n-expected") == "5"
            assert page.inner_text(f"#c-{b['ticket']} td:nth-child(5)").startswith("未到（由第1考场 第1场")
            shot(page, "move-room2")
            # the candidate's phone carries on in the new room, answers kept
            br.phone.click("#next-btn")
            br.phone.click(".opt[data-key='A']")
            br.phone.wait_for_selector("#savestate:has-text('已保存')")
            assert wait_for(lambda: hall.db().execute("SELECT COUNT(*) FROM answers WHERE ticket=?",
                                                      (a["ticket"],)).fetchone()[0] == 2)
        # the QR checks follow the move: room 1's QR is now the wrong room, room 2's lets B in
        p = Phone(hall, b["ticket"], b["id_number"][-6:]).connect()
        try:
            assert p.login(S1)["error"]["code"] == "wrong_room"
            r = p.login(S2)
            assert r["ok"] and r["candidate"]["room"] == "第2考场", r
            assert p.call("confirm")["ok"] and p.call("open")["ok"]   # admitted to the running room
        finally:
            p.close()
        with hall.db() as db:
            row = db.execute("SELECT a.sitting_id, a.deadline_at, c.sitting_id, c.seat_no FROM attempts a"
                             " JOIN candidates c USING (ticket) WHERE ticket=?", (a["ticket"],)).fetchone()
            assert tuple(row) == (S2, deadline, S2, 9)
            assert [r[0] for r in db.execute("SELECT q FROM answers WHERE ticket=? ORDER BY q", (a["ticket"],))] == [1, 2]
        chief = hall.staff_session()
        one, two = record_text(chief, hall, S1), record_text(chief, hall, S2)
        assert f"【调出】{a['ticket']}{a['name']}调至第2考场第1场：座位损坏" in one, one
        assert f"【调入】{a['ticket']}{a['name']}由第1考场第1场调入（座位9）：座位损坏" in two, two
        assert f"【调入】{b['ticket']}{b['name']}由第1考场第1场调入" in two and "准许迟到入场" not in two
        assert "应到人数1实到人数0" in one and "应到人数5实到人数2" in two, (one, two)
        payload = exported(chief, hall)
        recs = {x["sitting_id"]: x for x in payload["room_records"]}
        assert any(line.startswith(f"move_out: {a['ticket']}") for line in recs[S1]["other"])
        assert any(line.startswith(f"move_in: {a['ticket']}") for line in recs[S2]["other"])
        cand = next(c for c in payload["candidates"] if c["ticket"] == a["ticket"])
        assert cand["sitting_id"] == S2
    finally:
        hall.stop()


def test_reschedule_one_candidate_and_a_whole_sitting_the_centre_lists_them(tmp_path):
    plan = make_plan(candidates_per_room=3, rooms=2, earliest_submit_minutes=0.01)
    a, b, c = [x for x in plan["candidates"] if x["sitting_id"] == S1]
    d, e, f = [x for x in plan["candidates"] if x["sitting_id"] == S2]
    hall = HallProcess(tmp_path / "h", plan).start()
    phones = []
    try:
        with Browser() as br:
            page = br.laptop
            console_login(page, hall.url)
            start_in_console(page, hall, S2)
            start_in_console(page, hall, S1)
            phone_logs_in_and_answers(br.phone, hall, a, ("B",))
            # one candidate: A, answering, cannot go on (fault) -> 待重考
            page.wait_for_function(f"document.querySelector('#c-{a['ticket']} td:nth-child(5)').textContent === '答题中'")
            act(page, a["ticket"], "retake")
            page.check("input[name=retake_reason][value=fault]")
            page.fill("input[name=retake_text]", "手机与备用机均故障")
            page.check("input[name=retake_ok]")
            shot(page, "retake-form")
            page.click("button[data-do=reschedule]")
            page.wait_for_selector("#act-msg.okmsg")
            page.click("#act-close")
            page.wait_for_function(f"document.querySelector('#c-{a['ticket']} td:nth-child(5)').textContent"
                                   ".indexOf('待重考') === 0")
            br.phone.wait_for_selector("#retake-title")
            shot(br.phone, "retake-phone")
            # room 2: D hands in; E is answering, F never came; the room cannot go on -> 整场待重考
            for who, submits in ((d, True), (e, False)):
                p = Phone(hall, who["ticket"], who["id_number"][-6:]).connect()
                phones.append(p)
                assert p.login(S2)["ok"] and p.call("confirm")["ok"] and p.call("open")["ok"]
                assert p.answer(1, "A")["ok"]
                if submits:
                    assert wait_for(lambda: p.call("submit", {}).get("ok"), 10)
            page.goto(f"{hall.url}/console/sitting/{S2}")
            page.wait_for_selector(f"#c-{e['ticket']}")
            page.click("#retake-all")
            page.check("input[name=retake_all_reason][value=force_majeure]")
            page.fill("textarea[name=retake_all_text]", "暴雨停电，无法恢复，已报告区县定考办")
            page.check("input[name=retake_all_ok]")
            shot(page, "retake-all-form")
            page.click("button[data-room=reschedule]")
            page.wait_for_selector("#sitting-status:has-text('已结束')")
            page.wait_for_function("document.getElementById('n-absent').textContent === '0'")
            for who in (e, f):
                assert page.inner_text(f"#c-{who['ticket']} td:nth-child(5)").startswith("待重考"), who
            assert page.inner_text(f"#c-{d['ticket']} td:nth-child(5)") == "已交卷"
            shot(page, "retake-all-roster")
        chief = hall.staff_session()
        two = record_text(chief, hall, S2)
        assert "无缺考记录" in two, two
        assert (f"【待重考（另择期再考）】{e['ticket']}{e['name']}、{f['ticket']}{f['name']}：不可抗力："
                "暴雨停电，无法恢复，已报告区县定考办") in two, two
        assert "待重考2人" in two
        one = record_text(chief, hall, S1)
        assert f"【待重考（另择期再考）】{a['ticket']}{a['name']}：故障无法恢复，无法考试：手机与备用机均故障" in one
        payload = exported(chief, hall)
        assert sorted(x["ticket"] for x in payload["rescheduled"]) == sorted([a["ticket"], e["ticket"], f["ticket"]])
        assert payload["counts"]["rescheduled"] == 3 and payload["counts"]["absent"] == 0
        status = {x["ticket"]: x["status"] for x in payload["attempts"]}
        assert status[d["ticket"]] == "submitted" and status[f["ticket"]] == "rescheduled"
        rec2 = next(x for x in payload["room_records"] if x["sitting_id"] == S2)
        assert rec2["absentees"] == [] and {x["ticket"] for x in rec2["rescheduled"]} == {e["ticket"], f["ticket"]}
    finally:
        for p in phones:
            p.close()
        hall.stop()
    # The centre takes the bundle and lists them as 待重考: not 缺考, not failed, no make-up.
    from sync.central import reports
    from hall_server.outbox import export_bundle

    centre = Centre(tmp_path, plan)
    try:
        path, _ = export_bundle(tmp_path / "h" / "hall.db", tmp_path / "out")
        import requests

        r = requests.post(centre.url + "/api/bundles", data=path.read_bytes(),
                          headers={"Content-Type": "application/octet-stream"}, timeout=30)
        assert r.status_code in (200, 201), r.text
        store = centre.store
        header, rows = reports.candidates_table(store)
        result = {row[0]: row[header.index("结果")] for row in rows}
        shown = {row[0]: row[header.index("状态")] for row in rows}
        for who in (a, e, f):
            assert result[who["ticket"]] == "待重考" and shown[who["ticket"]] == "待重考", who
        _, makeup = reports.makeup_table(store)
        assert not {a["ticket"], e["ticket"], f["ticket"]} & {row[2] for row in makeup}
        _, retakes = reports.retake_table(store)
        assert sorted(row[2] for row in retakes) == sorted([a["ticket"], e["ticket"], f["ticket"]])
        h, res = reports.results_table(store)
        assert sum(row[h.index("待重考")] for row in res) == 3
        totals = reports.site_status(store)["totals"]
        assert totals["retake"] == 3
        admin = requests.Session()
        page = admin.get(centre.url + "/?token=console-test-token", timeout=30).text
        assert "待重考 3 人" in page
        csv = admin.get(centre.url + "/export/retakes.csv?token=console-test-token", timeout=30)
        assert csv.status_code == 200 and a["ticket"] in csv.text
    finally:
        centre.stop()
