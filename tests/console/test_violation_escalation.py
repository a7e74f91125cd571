"""Issue 17 item 5 (escalation only; the identity marks are issue 16's): 附件4 第四条1, 多次
出现违纪行为，警告无效的 → 考试作弊. The second minor violation of a candidate prompts the
console to record cheating; the invigilator confirms and the exam stops. Decided in the
violation's transaction (exam/escalation.py), threshold `rules.minor_violations_before_cheating`."""
from __future__ import annotations

import pytest

from console_support import console_login, laptop_browser, shot
from factories import make_plan
from hallproc import HallProcess, Phone

pytestmark = pytest.mark.browser
S1 = "D1S1-R01"


def test_the_second_warning_prompts_to_record_cheating(tmp_path):
    plan = make_plan(candidates_per_room=3, rooms=1)
    a, b, _ = [c for c in plan["candidates"] if c["sitting_id"] == S1]
    hall = HallProcess(tmp_path / "h", plan).start()
    phones = []
    try:
        assert hall.start_sitting(S1)["ok"]
        for who in (a, b):
            p = Phone(hall, who["ticket"], who["id_number"][-6:]).connect()
            phones.append(p)
            assert p.login(S1)["ok"] and p.call("confirm")["ok"] and p.call("open")["ok"]
        # through the socket: the first warning has no prompt, the second has
        sio = hall.staff_socket()
        try:
            first = sio.call("violation", {"sitting": S1, "ticket": b["ticket"], "level": "minor", "facts": "交头接耳"},
                             namespace="/staff")
            assert first["ok"] and "escalation" not in first
            second = sio.call("violation", {"sitting": S1, "ticket": b["ticket"], "level": "minor", "facts": "再次交头接耳"},
                              namespace="/staff")
            assert second["ok"] and second["escalation"]["minor_count"] == 2
            assert second["escalation"]["suggest"] == "cheating" and "第四条" in second["escalation"]["clause"]
        finally:
            sio.disconnect()
        with hall.db() as db:   # a prompt, not a decision: B still answering
            assert db.execute("SELECT status FROM attempts WHERE ticket=?", (b["ticket"],)).fetchone()[0] == "answering"

        with laptop_browser() as page:
            console_login(page, hall.url)
            page.goto(f"{hall.url}/console/sitting/{S1}")
            page.wait_for_selector(f"#c-{a['ticket']}")

            def warn(facts: str) -> None:
                page.click(f"#c-{a['ticket']} button.act")
                page.click("button[data-open=violation]")
                page.select_option("select[name=level]", "minor")
                page.fill("textarea[name=facts]", facts)
                page.click("button[data-do=violation]")

            warn("不按指定座位就座，劝诫后仍不服从")
            page.wait_for_selector("#act-msg.okmsg")
            assert not page.is_visible("fieldset[data-task=escalate]")
            page.click("#act-close")
            page.wait_for_function(f"document.querySelector('#c-{a['ticket']} td:nth-child(11)').textContent === '一般违纪'")
            # the form says it before the second one
            page.click(f"#c-{a['ticket']} button.act")
            page.click("button[data-open=violation]")
            assert "已有 1 次一般违纪" in page.inner_text("#minor-note")
            page.click("#act-close")
            warn("接打手机，不服从管理")
            page.wait_for_selector("fieldset[data-task=escalate]:not([hidden])")
            assert "第 2 次一般违纪" in page.inner_text("#escalate-text") and "第四条第1项" in page.inner_text("#escalate-text")
            assert "可参加补考" in page.inner_text("#escalate-text")
            assert page.input_value("textarea[name=escalate_facts]").startswith("多次违纪，警告无效")
            page.click("button[data-do=escalate]")                      # no tick: refused in the form
            assert "请先勾选确认" in page.inner_text("#act-msg")
            page.check("input[name=escalate_ok]")
            shot(page, "escalation-prompt")
            page.click("button[data-do=escalate]")
            page.wait_for_selector("#act-msg.okmsg")
            page.click("#act-close")
            page.wait_for_function(f"document.querySelector('#c-{a['ticket']} td:nth-child(5)').textContent === '终止考试'")
            assert page.inner_text(f"#c-{a['ticket']} td:nth-child(11)") == "一般违纪、一般违纪、考试作弊"
            shot(page, "escalation-terminated")
        with hall.db() as db:
            rows = db.execute("SELECT level, facts FROM violations WHERE ticket=? ORDER BY id", (a["ticket"],)).fetchall()
            assert [r[0] for r in rows] == ["minor", "minor", "cheating"]
            assert rows[2][1].startswith("多次违纪，警告无效（第 2 次一般违纪：接打手机")
            assert db.execute("SELECT status, submit_reason FROM attempts WHERE ticket=?",
                              (a["ticket"],)).fetchone()[:] == ("terminated", "terminated")
    finally:
        for p in phones:
            p.close()
        hall.stop()


def test_no_prompt_once_the_exam_is_over_or_when_switched_off(tmp_path):
    plan = make_plan(candidates_per_room=2, rooms=1)
    a = plan["candidates"][0]
    hall = HallProcess(tmp_path / "h", plan, config_extra="[rules]\nminor_violations_before_cheating = 0\n").start()
    try:
        sio = hall.staff_socket()
        try:
            for _ in range(3):
                r = sio.call("violation", {"sitting": S1, "ticket": a["ticket"], "level": "minor", "facts": "喧哗"},
                             namespace="/staff")
                assert r["ok"] and "escalation" not in r
        finally:
            sio.disconnect()
    finally:
        hall.stop()
