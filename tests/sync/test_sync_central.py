"""The central service over real HTTP on loopback: uploads, cuts, duplicates, races,
bad files, replays, re-scoring, status and exports."""
from __future__ import annotations

import io
import json
import sqlite3
import threading

import pytest
import requests

from contracts.exam import CATEGORIES
from sync_proxy import cut_each_once
from hall_server.outbox import write_open_proof
from contracts.upload import Backoff, reachable, upload_bundle, verify_receipt
from hall_server.result_export import build_result_bundle
from contracts.result_bundle import bundle_id
from contracts.upload_proof import sign_open

FAST = dict(backoff=Backoff(base=0.001, cap=0.01, max_retries=8), sleep=lambda s: None)


def _bundle_file(tmp_path, db, name="b.hallresult", sitting=None):
    """The bundle file and, beside it, the site's signed proof that opens a resumable upload."""
    p = tmp_path / name
    p.write_bytes(build_result_bundle(db, sitting))
    write_open_proof(db, p)
    return p


def _count(store, table):
    return store.count(table)


def test_upload_receipt_and_rescoring(tmp_path, make_hall, start_central):
    db, info = make_hall("17", n_candidates=8, questions=20)
    # the site's own score is never trusted: corrupt it before export
    c = sqlite3.connect(db)
    c.execute("UPDATE attempts SET score = 100 WHERE ticket = ?", (info["tickets"][0],))
    c.commit()
    c.close()
    central = start_central(answer_keys=info["keys"])
    f = _bundle_file(tmp_path, db)
    states = []
    res = upload_bundle(f, central.url, chunk_size=1000, on_state=states.append,
                        centre_public_key=requests.get(central.url + "/api/health").json()["centre_public_key"])
    assert res.state == "accepted" and not res.duplicate
    assert res.receipt["bundle_id"] == bundle_id(f.read_bytes()) and res.receipt["site_no"] == "17"
    assert verify_receipt(res.receipt, central.store.centre_public_b64)
    assert not verify_receipt({**res.receipt, "generation": 1}, central.store.centre_public_b64)
    assert [s["state"] for s in states][0] == "pending" and states[-1]["state"] == "accepted"
    assert any(s["state"] == "uploading" and 0 < s["percent"] < 100 for s in states)
    assert json.loads((tmp_path / "b.hallresult.receipt.json").read_text())["receipt_no"] == 1
    assert json.loads((tmp_path / "b.hallresult.sync.json").read_text())["state"] == "accepted"
    rows = {r["ticket"]: r for r in central.store.results()}
    assert len(rows) == 8
    t0 = rows[info["tickets"][0]]
    assert t0["site_score"] == 100 and t0["centre_score"] < 100          # re-scored from raw answers
    p = json.loads(f.read_bytes())["payload"]
    a0 = next(a for a in p["attempts"] if a["ticket"] == info["tickets"][0])
    key = info["keys"][info["tickets"][0]]
    assert t0["centre_score"] == sum(1 for q, ch, *_ in a0["answers"] if key[q - 1] == ch)
    assert sum(1 for r in rows.values() if r["status"] == "absent") == 2
    # the status page knows all 343 sites and flags the score mismatch
    st = requests.get(central.url + "/api/status", headers=central.admin).json()
    assert st["totals"]["sites"] == 343 and st["totals"]["synced"] == 1 and st["totals"]["not_synced"] == 342
    s17 = next(s for s in st["sites"] if s["site_no"] == "17")
    assert s17["received"] == 8 and s17["bundles"] == 1
    assert any("不一致" in p for p in s17["problems"])
    assert "成绩包为演示数据（DEMO）" in s17["problems"]
    page = requests.get(central.url + "/", headers=central.admin).text
    assert "成绩包接收情况" in page and "重庆市第十三人民医院" in page


def test_same_bundle_twice_returns_the_original_receipt(tmp_path, make_hall, start_central):
    db, _ = make_hall("17")
    central = start_central()
    f = _bundle_file(tmp_path, db)
    r1 = upload_bundle(f, central.url, chunk_size=4096)
    r2 = upload_bundle(f, central.url, chunk_size=4096)
    assert r1.state == r2.state == "accepted" and r2.duplicate and r2.receipt == r1.receipt
    r3 = requests.post(central.url + "/api/bundles", data=f.read_bytes()).json()     # whole-file route
    assert r3["status"] == "duplicate" and r3["receipt"] == r1.receipt
    assert _count(central.store, "bundles") == 1 and len(central.store.results()) == 8


@pytest.mark.parametrize("chunk", [997, 4096])
def test_connection_cut_at_every_chunk_boundary(tmp_path, make_hall, start_central, proxy, chunk):
    db, info = make_hall("17", n_candidates=6, questions=30)
    central = start_central(answer_keys=info["keys"])
    px = proxy(central.port, cut_each_once())
    f = _bundle_file(tmp_path, db)
    size = f.stat().st_size
    n_chunks = -(-size // chunk)
    res = upload_bundle(f, px.url, chunk_size=chunk, **FAST)
    assert res.state == "accepted", res.reason
    puts = [c for c in px.cuts if c[1] == "PUT"]
    assert len(puts) == n_chunks                        # every chunk was cut once
    assert {c[0] for c in puts} == {"before", "after"}  # both before and after the commit
    assert any("finalize" in c[2] for c in px.cuts) and any(c[2] == "/api/uploads" for c in px.cuts)
    assert res.retries >= n_chunks
    assert _count(central.store, "bundles") == 1
    assert central.store.bundle_bytes(res.bundle_id) == f.read_bytes()     # nothing lost, nothing doubled
    assert len(central.store.results()) == 6


def test_finalize_cut_after_commit_gives_original_receipt(tmp_path, make_hall, start_central, proxy):
    db, _ = make_hall("17")
    central = start_central()
    cut = {"n": 0}

    def policy(method, path):
        if path.endswith("/finalize") and cut["n"] == 0:
            cut["n"] += 1
            return "after"
    px = proxy(central.port, policy)
    res = upload_bundle(_bundle_file(tmp_path, db), px.url, chunk_size=2048, **FAST)
    assert res.state == "accepted" and not res.duplicate and res.receipt["receipt_no"] == 1
    assert _count(central.store, "bundles") == 1


def test_every_answer_lost_after_the_commit_still_completes(tmp_path, make_hall, start_central, proxy):
    """Each chunk is committed but its answer is lost: the committed offset the client reads
    back is progress, so the retry budget starts again and the upload is never 'pending'."""
    db, _ = make_hall("17")
    central = start_central()
    seen = set()

    def policy(method, path):
        if method == "PUT" and path not in seen:
            seen.add(path)
            return "after"
    px = proxy(central.port, policy)
    f = _bundle_file(tmp_path, db)
    res = upload_bundle(f, px.url, chunk_size=1000, backoff=Backoff(base=0.001, cap=0.01, max_retries=3),
                        sleep=lambda s: None)
    assert res.state == "accepted", res.reason
    assert len(seen) > 5 and central.store.bundle_bytes(res.bundle_id) == f.read_bytes()


def test_two_sites_at_once_through_a_cutting_proxy(tmp_path, make_hall, start_central, proxy):
    (db1, i1), (db2, i2) = make_hall("1"), make_hall("2")
    central = start_central(answer_keys={**i1["keys"], **i2["keys"]})
    px = proxy(central.port, cut_each_once())
    files = [_bundle_file(tmp_path, db1, "a.hallresult"), _bundle_file(tmp_path, db2, "b.hallresult")]
    out = {}

    def go(f):
        out[f.name] = upload_bundle(f, px.url, chunk_size=1500, session=requests.Session(), **FAST)
    ts = [threading.Thread(target=go, args=(f,)) for f in files]
    [t.start() for t in ts]
    [t.join(30) for t in ts]
    assert {r.state for r in out.values()} == {"accepted"}, {k: (r.state, r.reason, r.retries) for k, r in out.items()}
    assert {r.receipt["site_no"] for r in out.values()} == {"1", "2"}
    assert _count(central.store, "bundles") == 2 and len(central.store.results()) == 16


def test_same_bundle_from_two_clients_at_once_is_stored_once(tmp_path, make_hall, start_central):
    db, _ = make_hall("17")
    central = start_central()
    f = _bundle_file(tmp_path, db)
    out = []
    ts = [threading.Thread(target=lambda: out.append(upload_bundle(f, central.url, chunk_size=700,
                                                                   session=requests.Session(), **FAST)))
          for _ in range(4)]
    [t.start() for t in ts]
    [t.join(30) for t in ts]
    assert len(out) == 4 and {r.state for r in out} == {"accepted"}
    assert len({json.dumps(r.receipt, sort_keys=True) for r in out}) == 1
    assert _count(central.store, "bundles") == 1


@pytest.mark.parametrize("damage", ["truncate", "flip", "other_key"])
def test_bad_files_are_refused_with_a_clear_reason(tmp_path, make_hall, start_central, site_keys, damage):
    db, _ = make_hall("17")
    central = start_central()
    data = bytearray(build_result_bundle(db))
    if damage == "truncate":
        data = data[: len(data) * 2 // 3]
        want = "malformed"
    elif damage == "flip":
        data[len(data) // 2] ^= 0x04
        want = None                                     # malformed or bad_signature, depending on the byte
    else:
        from contracts.result_bundle import sign_payload
        data = bytearray(sign_payload(json.loads(bytes(data))["payload"], site_keys["42"][0], "17"))
        want = "wrong_key"
    f = tmp_path / "bad.hallresult"
    f.write_bytes(bytes(data))
    res = upload_bundle(f, central.url, chunk_size=3000, **FAST)
    assert res.state == "rejected" and res.reason["message"]
    if want:
        assert res.reason["code"] == want
    assert json.loads((tmp_path / "bad.hallresult.sync.json").read_text())["state"] == "rejected"
    assert _count(central.store, "bundles") == 0 and central.store.results() == []
    assert central.store.rejections()[0]["code"] == res.reason["code"]
    assert res.reason["code"] in requests.get(central.url + "/", headers=central.admin).text


def test_replayed_old_bundle_after_a_newer_one(tmp_path, make_hall, start_central, central_db):
    db, info = make_hall("17")
    central = start_central(answer_keys=info["keys"])
    old = _bundle_file(tmp_path, db, "old.hallresult")
    old_r02 = _bundle_file(tmp_path, db, "old-r02.hallresult", "D1S1-R02")
    # the site carries on: an incident recorded late (the console's own operation)
    from factories import ExamScript
    script = ExamScript(db)
    script.incident(1693795000, "D1S1-R02", "other", "补记")
    script.close()
    new = _bundle_file(tmp_path, db, "new.hallresult")
    assert upload_bundle(new, central.url).state == "accepted"
    r = upload_bundle(old, central.url)
    assert r.state == "rejected" and r.reason["code"] == "stale" and "旧包" in r.reason["message"]
    # an older per-sitting bundle is stale too
    r = upload_bundle(old_r02, central.url)
    assert r.state == "rejected" and r.reason["code"] == "stale"
    assert _count(central.store, "bundles") == 1
    assert [x["code"] for x in central.store.rejections()] == ["stale", "stale"]
    # the results are those of the newer bundle
    assert {r["bundle_id"] for r in central.store.results()} == {bundle_id(new.read_bytes())}
    # the other order: old first, then new -> both accepted, results move to the newer one
    central2 = start_central(db=central_db("centre2"), answer_keys=info["keys"])
    assert upload_bundle(old, central2.url).state == "accepted"
    assert upload_bundle(new, central2.url).state == "accepted"
    assert {r["generation"] for r in central2.store.results()} == {json.loads(new.read_bytes())["payload"]["generation"]}


def test_per_sitting_bundles_and_site_bundle_coexist(tmp_path, make_hall, start_central):
    db, _ = make_hall("17")
    central = start_central()
    for sid in ("D1S1-R01", "D1S1-R02"):
        assert upload_bundle(_bundle_file(tmp_path, db, f"{sid}.hallresult", sid), central.url).state == "accepted"
    assert len(central.store.results()) == 8
    assert upload_bundle(_bundle_file(tmp_path, db), central.url).state == "accepted"   # same data, whole site
    assert _count(central.store, "bundles") == 3 and len(central.store.results()) == 8


def test_unreachable_centre_stays_pending_then_succeeds(tmp_path, make_hall, start_central):
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    s.close()
    db, _ = make_hall("17")
    f = _bundle_file(tmp_path, db)
    assert reachable(dead, timeout=0.5) is False
    waits = []
    res = upload_bundle(f, dead, backoff=Backoff(base=0.5, cap=4, max_retries=5), sleep=waits.append)
    assert res.state == "pending" and res.reason["code"] == "unreachable" and len(waits) == 5
    assert all(0 <= w <= min(4, 0.5 * 2 ** (i + 1)) for i, w in enumerate(waits))    # bounded, jittered
    assert json.loads((tmp_path / "b.hallresult.sync.json").read_text())["state"] == "pending"
    central = start_central()
    assert reachable(central.url)
    assert upload_bundle(f, central.url).state == "accepted"


def test_server_errors_are_retried(tmp_path, make_hall, start_central):
    db, _ = make_hall("17")
    fails = {"n": 0}

    def hook(stage, **kw):
        if stage == "before_chunk" and fails["n"] < 3:
            fails["n"] += 1
            raise RuntimeError("disk hiccup")
    central = start_central(fault_hook=hook)
    res = upload_bundle(_bundle_file(tmp_path, db), central.url, chunk_size=5000, **FAST)
    assert res.state == "accepted" and fails["n"] == 3 and res.retries == 3


def test_chunk_protocol_edges(tmp_path, make_hall, start_central, site_keys):
    db, _ = make_hall("17")
    central = start_central(max_chunk=4096)
    data = build_result_bundle(db)
    u = central.url + "/api/uploads"

    def signed(sha, size):
        return sign_open(site_keys["17"][0], "17", sha, size)
    assert requests.post(u, json={"sha256": "x", "size": 3}).status_code == 400
    assert requests.post(u, json={"sha256": "a" * 64, "size": 10**12}).status_code == 400
    r = requests.post(u, json=signed(bundle_id(data), len(data)))
    assert r.status_code == 201
    uid = r.json()["upload_id"]
    # resuming without the id finds the same upload
    assert requests.post(u, json=signed(bundle_id(data), len(data))).json()["upload_id"] == uid
    assert requests.put(f"{u}/{uid}?offset=0", data=data[:5000]).status_code == 413
    assert requests.put(f"{u}/{uid}?offset=100", data=data[100:200]).json()["error"]["offset"] == 0
    assert requests.put(f"{u}/{uid}?offset=0", data=data[:1000]).json()["offset"] == 1000
    assert requests.put(f"{u}/{uid}?offset=0", data=data[:1000]).json()["offset"] == 1000   # repeat: harmless
    r = requests.put(f"{u}/{uid}?offset=0", data=b"x" * 1000)                             # a different repeat
    assert r.status_code == 409 and r.json()["error"]["offset"] == 1000
    assert requests.head(f"{u}/{uid}").headers["Upload-Offset"] == "1000"
    r = requests.post(f"{u}/{uid}/finalize")
    assert r.status_code == 409 and r.json()["error"]["code"] == "incomplete"
    assert requests.get(f"{u}/nope").status_code == 404
    # bytes that do not hash to the declared sha are refused at finalize, upload discarded
    fake = b"y" * 100
    r = requests.post(u, json=signed(bundle_id(b"z" * 100), 100)).json()
    requests.put(f"{u}/{r['upload_id']}?offset=0", data=fake)
    r2 = requests.post(f"{u}/{r['upload_id']}/finalize")
    assert r2.status_code == 422 and r2.json()["error"]["code"] == "hash_mismatch"


def test_pass_marks_and_exports(tmp_path, make_hall, start_central):
    (db1, i1), (db2, i2) = make_hall("1", n_candidates=12), make_hall("2", n_candidates=12)
    central = start_central(answer_keys={**i1["keys"], **i2["keys"]}, admin_token="s3cret")
    for db in (db1, db2):
        assert upload_bundle(_bundle_file(tmp_path, db, f"{db.stem}.hallresult"), central.url).state == "accepted"
    assert requests.get(central.url + "/export/results.csv").status_code == 401
    r = requests.get(central.url + "/export/results.csv", headers={"Authorization": "Bearer s3cret"})
    body = r.content.decode("utf-8-sig")
    assert "待定" in body.splitlines()[0] or "待定" in body       # no pass mark yet
    assert requests.post(central.url + "/api/pass-marks", json={"category": "临床", "level": "执业医师", "mark": 12}
                         ).status_code == 401
    h = {"Authorization": "Bearer s3cret"}
    for cat in CATEGORIES:
        assert requests.post(central.url + "/api/pass-marks", headers=h,
                             json={"category": cat, "level": "执业医师", "mark": 12}).status_code == 200
        requests.post(central.url + "/api/pass-marks", headers=h,
                      json={"category": cat, "level": "执业助理医师", "mark": 11})
    from openpyxl import load_workbook
    wb = load_workbook(io.BytesIO(requests.get(central.url + "/export/candidates.xlsx", headers=h).content))
    rows = list(wb.active.values)
    head, rows = rows[0], rows[1:]
    assert len(rows) == 24
    col = {h: i for i, h in enumerate(head)}
    by_ticket = {r[col["准考证号"]]: r for r in rows}
    cheat = by_ticket[i1["tickets"][1]]                    # terminated for cheating: final once approved
    assert cheat[col["结果"]] == "待核准" and cheat[col["违纪"]] == "考试作弊" and cheat[col["状态"]] == "终止考试"
    cheating = next(v for v in json.loads(build_result_bundle(db1))["payload"]["violations"] if v["level"] == "cheating")
    case = f"1:{cheating['id']}"
    for step in ("review", "approve"):                     # site 1 is 市直属: the city reviews it too
        r = requests.post(f"{central.url}/api/cases/{case}/{step}", headers=h, json={"level": "cheating"})
        assert r.status_code == 200, r.text
    wb = load_workbook(io.BytesIO(requests.get(central.url + "/export/candidates.xlsx", headers=h).content))
    by_ticket = {r[col["准考证号"]]: r for r in list(wb.active.values)[1:]}
    cheat = by_ticket[i1["tickets"][1]]
    assert cheat[col["结果"]] == "不合格" and cheat[col["违纪处理"]] == "已核准：考试作弊"
    assert by_ticket[i1["tickets"][-1]][col["结果"]] == "缺考"
    rows = list(by_ticket.values())
    for r in rows:
        if r[col["状态"]] == "已交卷" and r[col["违纪"]] in ("", None, "一般违纪"):
            mark = 12 if r[col["级别"]] == "执业医师" else 11
            assert r[col["结果"]] == ("合格" if r[col["中心评分"]] >= mark else "不合格")
    wb = load_workbook(io.BytesIO(requests.get(central.url + "/export/results.xlsx", headers=h).content))
    res = list(wb.active.values)
    assert res[0][:4] == ("序号", "单位名称", "所属区县", "应考人数")
    assert sum(r[3] for r in res[1:]) == 24 and sum(r[7] for r in res[1:]) == 4          # 4 absent
    unit = res[1][1]
    one = load_workbook(io.BytesIO(requests.get(central.url + "/export/progress.xlsx", params={"unit": unit}, headers=h).content))
    prog = list(one.active.values)
    assert len(prog) == 2 and prog[1][1] == unit
    assert requests.get(central.url + "/export/nope.csv", headers=h).status_code == 404


def test_roster_expected_vs_received(tmp_path, make_hall, start_central):
    db, info = make_hall("17", n_candidates=8)
    roster = tmp_path / "roster.csv"
    import csv
    with open(roster, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["ticket", "site_no", "name", "id_number", "category", "level", "unit",
                                           "department"])
        w.writeheader()
        for r in info["roster"]:
            w.writerow({k: r.get(k, "") for k in w.fieldnames})
        w.writerow({"ticket": "X1", "site_no": "17", "name": "名单外", "id_number": "", "category": "临床",
                    "level": "执业医师", "unit": "U", "department": ""})
        w.writerow({"ticket": "X2", "site_no": "3", "name": "未上报", "id_number": "", "category": "临床",
                    "level": "执业医师", "unit": "U", "department": ""})
    central = start_central(roster=roster)
    st = requests.get(central.url + "/api/status", headers=central.admin).json()
    assert st["totals"]["roster_loaded"] and st["totals"]["expected"] == 10 and st["totals"]["received"] == 0
    upload_bundle(_bundle_file(tmp_path, db), central.url)
    st = requests.get(central.url + "/api/status", headers=central.admin).json()
    s17 = next(s for s in st["sites"] if s["site_no"] == "17")
    assert (s17["expected"], s17["received"]) == (9, 8) and any("名单 9 人" in p for p in s17["problems"])
    assert "3" in st["not_synced"]
    assert any("no_key" in (r["score_note"] or "") for r in central.store.results())


def test_same_generation_different_content_is_a_conflict(tmp_path, make_hall, start_central):
    """Data changed without any log entry (someone edited the DB): not silently accepted."""
    db, info = make_hall("17")
    central = start_central()
    assert upload_bundle(_bundle_file(tmp_path, db, "a.hallresult"), central.url).state == "accepted"
    c = sqlite3.connect(db)
    c.execute("UPDATE candidates SET name = '改过' WHERE ticket = ?", (info["tickets"][0],))
    c.commit()
    c.close()
    r = upload_bundle(_bundle_file(tmp_path, db, "b.hallresult"), central.url)
    assert r.state == "rejected" and r.reason["code"] == "conflict" and "矛盾" in r.reason["message"]
    assert _count(central.store, "bundles") == 1


def test_the_centre_counts_absent_as_the_site_does(tmp_path, site_keys, start_central):
    """应到/实到/缺考 have one definition (hall_server/exam/counts.py): a candidate who logged in
    but never opened the paper before the sitting ended is 缺考 on the console, the room
    record and in the bundle, and so at the centre (not 'logged_in', verdict 待定)."""
    from factories import EXAM_DAY_2023 as T0, ExamScript, import_site, make_plan

    plan = make_plan(candidates_per_room=4, rooms=1, site_no="17", planned_start="2023-09-04T09:00:00+08:00")
    plan["site_key"] = {"private": site_keys["17"][0], "public": site_keys["17"][1]}
    db = import_site(tmp_path / "hall.db", plan)
    came, logged_only, absent, admitted = [c["ticket"] for c in plan["candidates"]]
    s = ExamScript(db)
    s.start(T0, "D1S1-R01")
    s.sit(T0 + 60, came)
    s.login(T0 + 70, logged_only)                  # logs in, never opens the paper
    s.admit_late(T0 + 900, admitted, "交通拥堵")    # admitted late, never comes
    s.end(T0 + 3700, "D1S1-R01")
    s.close()
    central = start_central(answer_keys=plan["keys"])
    assert upload_bundle(_bundle_file(tmp_path, db), central.url).state == "accepted"
    payload = json.loads(build_result_bundle(db))["payload"]
    site_absent = {a["ticket"] for a in payload["absentees"]}
    assert site_absent == {logged_only, absent, admitted}
    status = {r["ticket"]: r["status"] for r in central.store.results()}
    assert {t for t, st in status.items() if st == "absent"} == site_absent
    assert status[came] == "submitted"
