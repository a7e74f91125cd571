"""A site's bundle may only report that site's candidates (issue 12 item 6): the centre
issued the roster, so a bundle signed by one site that names another site's candidate (or,
with a roster loaded, a ticket not on that site's roster) is refused whole, and nothing
changes."""
from __future__ import annotations

import csv
import json

import requests

from sync.central.store import Store
from contracts.upload import upload_bundle
from hall_server.result_export import build_result_bundle
from contracts.result_bundle import sign_payload


def _forged_as(data: bytes, site: str, private_b64: str) -> bytes:
    """Site 17's payload, claimed and signed by ``site`` with its own (valid) key, its
    first submitted candidate turned into terminated / score 0."""
    p = json.loads(data)["payload"]
    p["site"]["site_no"] = site
    a = next(a for a in p["attempts"] if a["status"] == "submitted")
    a["status"], a["site_score"], a["answers"] = "terminated", 0, []
    return sign_payload(p, private_b64, site)


def _file(tmp_path, name, data):
    f = tmp_path / name
    f.write_bytes(data)
    return f


def test_a_site_cannot_rewrite_another_sites_candidates(tmp_path, make_hall, start_central, site_keys):
    db, info = make_hall("17")
    central = start_central(answer_keys=info["keys"])
    real = build_result_bundle(db)
    assert upload_bundle(_file(tmp_path, "17.hallresult", real), central.url).state == "accepted"
    before = central.store.results(with_answers=True)
    forged = _forged_as(real, "42", site_keys["42"][0])
    res = upload_bundle(_file(tmp_path, "42.hallresult", forged), central.url)
    assert res.state == "rejected" and res.reason["code"] == "foreign_candidate", res.reason
    assert "考点 17" in res.reason["message"] and "整包拒收" in res.reason["message"]
    assert central.store.results(with_answers=True) == before              # nothing changed
    assert central.store.count("bundles") == 1 and central.store.count("bundle_blobs") == 1
    assert central.store.rejections()[0]["code"] == "foreign_candidate"
    assert central.store.rejections()[0]["site_no"] == "42"
    page = requests.get(central.url + "/api/status", headers=central.admin).json()
    assert any("foreign_candidate" in p for s in page["sites"] if s["site_no"] == "42" for p in s["problems"])


def test_with_a_roster_only_the_sites_own_tickets_are_taken(tmp_path, make_hall, start_central):
    (db17, i17), (db42, _) = make_hall("17"), make_hall("42")
    roster = tmp_path / "roster.csv"
    with open(roster, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["ticket", "site_no", "name", "id_number", "category", "level", "unit",
                                           "department"])
        w.writeheader()
        for r in i17["roster"]:
            w.writerow({k: r.get(k, "") for k in w.fieldnames})
    central = start_central(roster=roster)
    before = central.store.results()
    res = upload_bundle(_file(tmp_path, "42.hallresult", build_result_bundle(db42)), central.url)
    assert res.state == "rejected" and res.reason["code"] == "foreign_candidate"
    assert "不在中心为该考点下发名单中" in res.reason["message"]
    assert central.store.results() == before and central.store.count("bundles") == 0
    assert upload_bundle(_file(tmp_path, "17.hallresult", build_result_bundle(db17)), central.url).state == "accepted"


def test_two_sites_racing_for_one_ticket_only_one_is_stored(make_hall, public_keys, central_db, site_keys):
    """Two server processes (two Stores), the real site and a forger at the same moment: one
    bundle is accepted, the other refused; every row belongs to the accepted one's site."""
    import threading
    db = central_db()
    stores = [Store(db, site_keys=public_keys, spool_dir=central_db.spool(db)) for _ in range(2)]
    real = build_result_bundle(make_hall("17")[0])
    forged = _forged_as(real, "42", site_keys["42"][0])
    for _ in range(3):
        out = [None, None]
        gate = threading.Barrier(2)

        def run(i, data):
            gate.wait()
            try:
                out[i] = stores[i].ingest(data)[0]
            except Exception as e:      # noqa: BLE001 - inspected below
                out[i] = getattr(e, "code", repr(e))
        ts = [threading.Thread(target=run, args=(i, d)) for i, d in enumerate((real, forged))]
        [t.start() for t in ts]
        [t.join(60) for t in ts]
        assert sorted(out) in (["accepted", "foreign_candidate"], ["duplicate", "foreign_candidate"]), out
        winner = "17" if out[0] in ("accepted", "duplicate") else "42"
        assert {r["site_no"] for r in stores[0].results()} == {winner}
        assert [b["site_no"] for b in stores[0].bundles()] == [winner]
    [s.close() for s in stores]
