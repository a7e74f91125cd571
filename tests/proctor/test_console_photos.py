"""The console's photo strip, flags, the lowest-similarity sort and filter, identity checks,
one tap from a photo to a violation, every view audited, invigilators held to their room
(issue 16). Screenshots: test-output/console/photos-*.png"""
from __future__ import annotations

import base64
import sys
import time
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "console"))

from console_support import console_login, laptop_browser, shot  # noqa: E402
from factories import make_plan  # noqa: E402
from proctorkit import (astronaut_face, blank, jpeg, lfw_faces, logged_in_phone, proctor_hall,  # noqa: E402
                        same_person_variants, two_people, upload)

from hall_server.proctor.face import available  # noqa: E402

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not available(), reason="dlib / face-recognition-models not installed")]


def views(hall):
    with hall.db() as db:
        return [(r["actor"], r["ticket"], r["data"]) for r in db.execute(
            "SELECT actor, ticket, data FROM audit_log WHERE action = 'view_photo' ORDER BY id")]


def test_photo_strip_filter_sort_id_checks_and_audited_views(tmp_path):
    plan = make_plan(candidates_per_room=4, rooms=2)
    plan["candidates"][0]["photo"] = base64.b64encode(jpeg(astronaut_face())).decode()
    hall = proctor_hall(tmp_path, "face_worker = true\n", plan)
    try:
        # seat 1: the right person; seat 2: someone else with a covered camera and a second
        # person; seat 3: no photos yet
        p1, c1 = logged_in_phone(hall, 0)
        upload(hall, p1.session, jpeg(same_person_variants()["mirrored"]), slot=0)
        upload(hall, p1.session, jpeg(same_person_variants()["darker"]), slot=1)
        p2, c2 = logged_in_phone(hall, 1)
        upload(hall, p2.session, jpeg(lfw_faces(12)[2]), slot=0)
        upload(hall, p2.session, jpeg(blank()), slot=1)
        upload(hall, p2.session, jpeg(two_people()), slot=2)
        upload(hall, p2.session, jpeg(lfw_faces(12)[5]), slot=3)
        end = time.time() + 60
        while time.time() < end:
            with hall.db() as db:
                if db.execute("SELECT COUNT(*) FROM captures WHERE analyzed_at IS NULL").fetchone()[0] == 0:
                    break
            time.sleep(0.3)
        with laptop_browser() as page:
            console_login(page, hall.url, "r01", "r01-pw")
            page.goto(hall.url + f"/console/sitting/{c1['sitting_id']}")
            row2 = page.locator(f"#c-{c2['ticket']}")
            expect(row2).to_contain_text("最低相似度")
            expect(row2).to_contain_text("无人脸")
            expect(row2).to_contain_text("多人")
            page.click("#sort-sim")
            first = page.locator("#roster tbody tr").first
            expect(first).to_have_id(f"c-{c2['ticket']}")   # the lowest similarity first
            shot(page, "photos-sorted")
            page.click("button[data-filter=photo]")
            expect(page.locator("#roster tbody tr")).to_have_count(1)
            shot(page, "photos-filter")
            page.click("button[data-filter=all]")
            # the strip of seat 1: roster photo beside the captures, all from audited routes
            before = len(views(hall))
            page.locator(f"#c-{c1['ticket']} .photos-btn").click()
            expect(page.locator("#photos-roster img")).to_be_visible()
            expect(page.locator("#photos-strip figure")).to_have_count(2)
            page.wait_for_function("[...document.querySelectorAll('#photos img')].every(i => i.complete && i.naturalWidth > 0)")
            got = views(hall)[before:]
            assert sorted(d for _, _, d in got).count('{"photo":"roster"}') == 1 and len(got) == 3, got
            assert all(a == "staff:r01" and t == c1["ticket"] for a, t, _ in got)
            page.click("button[data-id='entry:id_card']")
            expect(page.locator("#photos-id")).to_contain_text("入场：身份证")
            page.click("button[data-open-id=other]")
            page.fill("#photos-form input[name=document]", "驾驶证")
            page.click("#id-save")
            expect(page.locator("#photos-msg")).to_contain_text("批准人")   # refused without the approver
            page.fill("#photos-form input[name=approver]", "张主任")
            page.click("#id-save")
            expect(page.locator("#photos-id")).to_contain_text("其他证件（驾驶证，批准人 张主任）")
            page.click("button[data-id='during:id_card']")
            expect(page.locator("#photos-id")).to_contain_text("考中：身份证")
            shot(page, "photos-strip")
            page.click("#photos-close")
            # seat 2: one tap from the low-similarity photo to a 疑似替考 record, filled in
            page.locator(f"#c-{c2['ticket']} .photos-btn").click()
            expect(page.locator("#photos-strip figure.flagged")).not_to_have_count(0)
            shot(page, "photos-flagged")
            page.locator("#photos-strip figure.flagged [data-act=act-impersonation]").first.click()
            expect(page.locator("#act")).to_be_visible()
            facts = page.locator("#act-form textarea[name=facts]").input_value()
            assert facts.startswith("疑似替考：抓拍照片") and "编号" in facts
            assert page.locator("#act-form select[name=level]").input_value() == "serious"
            page.check("#act-form input[name=terminate_ok]")
            page.click("#act-form [data-do=violation]")
            expect(page.locator("#act-msg")).to_have_text("已保存")
            shot(page, "photos-violation")
        with hall.db() as db:
            v = db.execute("SELECT level, facts FROM violations WHERE ticket = ?", (c2["ticket"],)).fetchone()
            checks = db.execute("SELECT stage, method, document, approver FROM id_checks WHERE ticket = ? ORDER BY id",
                                (c1["ticket"],)).fetchall()
        assert v[0] == "serious" and v[1].startswith("疑似替考")
        assert [tuple(x) for x in checks] == [("entry", "id_card", "", ""), ("entry", "other", "驾驶证", "张主任"),
                                              ("during", "id_card", "", "")]
        # an invigilator sees only their room; a refused view is not served
        r02 = hall.staff_session("r02", "r02-pw")
        cid = next(iter(hall.db().execute("SELECT capture_id FROM captures WHERE ticket = ? AND status = 'ok'",
                                          (c1["ticket"],))))[0]
        n = len(views(hall))
        for path in (f"/console/photos/capture/{cid}.jpg", f"/console/photos/roster/{c1['ticket']}.jpg",
                     f"/console/photos/list/{c1['ticket']}"):
            r = r02.get(hall.url + path, timeout=10)
            assert r.status_code == 403 and not r.content.startswith(b"\xff\xd8"), path
        assert len(views(hall)) == n
        assert requests.get(hall.url + f"/console/photos/capture/{cid}.jpg", timeout=10).status_code == 403
        p1.close()
        p2.close()
    finally:
        hall.stop()
