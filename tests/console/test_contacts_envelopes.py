"""Issue 17 item 7: whom to call and the release codes on paper.

- Provisioning writes, beside each site's bundle, a sheet of sealed envelopes: one page per
  sitting with its release code inside and its seal number on the face and the tear-off
  stub; the signed bundle names every sitting's seal number.
- The console shows the district office, the city office and the hotline on every page;
  the chief's checklist prints them with the envelope procedure.
- The county office cannot be reached: the chief opens the envelope, and 宣布开考 takes the
  code from the PDF and the seal number (a wrong one is refused and changes nothing); the
  room record and the result bundle name the envelope.
"""
from __future__ import annotations

import io
import random
import re
from pathlib import Path

import pdfplumber
import pytest

from console_support import console_login, laptop_browser, shot
from hallproc import HallProcess

pytestmark = pytest.mark.browser
FAST_KDF = {"name": "scrypt", "n": 2 ** 4, "r": 8, "p": 1}


def _text(pdf: bytes) -> list[str]:
    with pdfplumber.open(io.BytesIO(pdf)) as doc:
        return [re.sub(r"\s+", " ", p.extract_text() or "") for p in doc.pages]


@pytest.fixture(scope="module")
def site_bundle(tmp_path_factory):
    """A real site of 渝中区 through the real provisioning build."""
    from provisioning.allocate import Layout
    from provisioning.assemble import auto_blueprint
    from contracts.keys import keygen
    from contracts.exam import EXAM_DEFAULTS
    from contracts.shipped import SITES_CSV
    from provisioning.provision import BuildOptions, build_site_bundle
    from provisioning.sites import load_sites
    from provisioning.synth import demo_bank, make_candidates

    d = tmp_path_factory.mktemp("envelopes")
    priv, pub = keygen(d / "keys")
    sites = load_sites(SITES_CSV)
    site = next(s for s in sites if s.district == "渝中区")
    bank = demo_bank(1, per_category=40, images_per_category=0)
    opts = BuildOptions(seed=1, exam=dict(EXAM_DEFAULTS, question_count=10), kdf=FAST_KDF,
                        layout=Layout(rooms=2, capacity=3))
    cands = make_candidates(site, 6, random.Random(3), sites, ticket_prefix="2023777")
    r = build_site_bundle(site, cands, bank, auto_blueprint(bank, 10), priv, d / "out", opts)
    return {"result": r, "pub": pub, "site": site, "dir": d}


def test_provisioning_writes_one_envelope_per_sitting_that_opens_it(site_bundle):
    from contracts.site_bundle import open_sitting, read_bundle

    r = site_bundle["result"]
    bundle = Path(r["bundle"])
    pdf = bundle.with_name(bundle.stem + "_放行码信封.pdf").read_bytes()
    pages = _text(pdf)
    manifest, sealed = read_bundle(bundle, site_bundle["pub"], activation_code=r["activation_code"])
    seals = {s["sitting_id"]: s["envelope_seal"] for s in manifest["plan"]["sittings"]}
    assert len(pages) == len(sealed) == len(seals) >= 2 and len(set(seals.values())) == len(seals)
    sheet = bundle.with_name(bundle.stem + "_放行码.txt").read_text(encoding="utf-8")
    for page in pages:
        sid = re.search(r"场次编号 (\S+)", page).group(1)
        code = re.search(r"[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}", page).group(0)
        assert code == r["release_codes"][sid]
        assert page.count(f"封条号 {seals[sid]}") >= 3, page      # face, inside slip, tear-off stub
        assert "撕下联" in page and "开启人（主考）签名" in page and site_bundle["site"].name in page
        assert open_sitting(sealed[sid], code)["papers"]             # the code on the page opens its sitting
        assert re.search(rf"{sid}.*{code}\s+{seals[sid]}", sheet)
    out = Path(__file__).resolve().parents[2] / "test-output" / "console"
    out.mkdir(parents=True, exist_ok=True)
    (out / "envelopes-sheet.pdf").write_bytes(pdf)


def test_contacts_on_the_console_and_the_chief_opens_an_envelope(tmp_path, site_bundle):
    from hall_server.importer import import_bundle
    from hall_server.result_export import build_result_bundle

    r = site_bundle["result"]
    bundle = Path(r["bundle"])
    pages = _text(bundle.with_name(bundle.stem + "_放行码信封.pdf").read_bytes())
    envelope = {re.search(r"场次编号 (\S+)", p).group(1):
                (re.search(r"[2-9A-HJKMNP-Z]{4}(?:-[2-9A-HJKMNP-Z]{4}){2}", p).group(0),
                 re.search(r"封条号 (\d{8})", p).group(1)) for p in pages}
    sid = sorted(envelope)[0]
    code, seal = envelope[sid]
    other_seal = envelope[sorted(envelope)[1]][1]
    import_bundle(tmp_path / "h" / "hall.db", bundle, site_bundle["pub"], activation_code=r["activation_code"])
    hall = HallProcess(tmp_path / "h").start()
    pw = r["passwords"]["chief"]
    try:
        with laptop_browser() as page:
            console_login(page, hall.url, "chief", pw)
            contacts = page.inner_text("#contacts")
            assert "渝中区定考办 023-63765144" in contacts, contacts
            assert "市定考办 023-67070676、13752952556" in contacts and "系统客服 400-6199-113" in contacts
            shot(page, "contacts-home")
            page.click(f"a[href='/console/sitting/{sid}']")
            page.wait_for_selector("#sitting-status:has-text('未开考')")
            assert "渝中区定考办" in page.inner_text("#contacts")
            page.click("#start")
            page.check("input[name=confirm_date]")      # the shipped sites are dated 2023
            assert page.is_visible("#release-via") and not page.is_visible("#seal-line")
            page.check("input[name=release_via][value=envelope]")
            page.fill("input[name=release_code]", code.lower())
            page.fill("input[name=envelope_seal]", other_seal)      # another sitting's envelope
            page.click("button[data-room=start_sitting]")
            page.wait_for_selector("#room-msg.error")
            assert "封条号与本场次的放行码信封不符" in page.inner_text("#room-msg")
            with hall.db() as db:
                assert db.execute("SELECT status FROM sittings WHERE sitting_id=?", (sid,)).fetchone()[0] == "planned"
                assert db.execute("SELECT COUNT(*) FROM papers").fetchone()[0] == 0
                assert db.execute("SELECT opened_at FROM release_envelopes WHERE sitting_id=?", (sid,)).fetchone()[0] is None
            shot(page, "envelope-wrong-seal")
            page.fill("input[name=envelope_seal]", seal[:4] + " " + seal[4:])
            page.click("button[data-room=start_sitting]")
            page.wait_for_selector("#sitting-status:has-text('考试中')")
            shot(page, "envelope-started")

        chief = hall.staff_session("chief", pw)
        record = " ".join(_text(chief.get(f"{hall.url}/console/sitting/{sid}/print/room-record.pdf").content))
        assert "【开启放行码信封】" in record and f"封条号 {seal}" in record, record
        checklist = "".join(_text(chief.get(f"{hall.url}/console/print/guide/chief-checklist.pdf").content)).replace(" ", "")
        assert "渝中区定考办：023-63765144" in checklist and "放行码信封" in checklist and "封条号" in checklist
    finally:
        hall.stop()
    import json

    payload = json.loads(build_result_bundle(tmp_path / "h" / "hall.db"))["payload"]
    env = {e["sitting_id"]: e for e in payload["release_envelopes"]}
    assert env[sid]["seal_no"] == seal and env[sid]["opened_by"] == "chief" and env[sid]["opened_at"]
    assert all(e["opened_at"] is None for k, e in env.items() if k != sid)
    rec = next(x for x in payload["room_records"] if x["sitting_id"] == sid)
    assert any(seal in line and "放行码信封" in line for line in rec["other"]), rec["other"]
    audit = [a for a in payload["audit_log"] if a["action"] == "open_envelope"]
    assert len(audit) == 1 and json.loads(audit[0]["data"]) == {"seal_no": seal}
