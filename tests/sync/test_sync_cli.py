"""County office run, USB export/import, the command lines (one real subprocess)."""
from __future__ import annotations

import csv
import io
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from contracts.result_bundle import bundle_id, sign_payload
from contracts.upload import Backoff, upload_bundle
from contracts.upload_proof import sign_open
from hall_server import cli as hall_cli
from sync import cli as sync_cli
from sync.central import cli as central_cli
from sync.central.store import Store
from sync.county import county_run

ROOT = Path(__file__).resolve().parents[2]
FAST = dict(backoff=Backoff(base=0.001, cap=0.01, max_retries=6), sleep=lambda s: None)


def _hall_export(db, out, capsys, *extra) -> tuple[str, Path]:
    """`hall sync --db DB --export OUT`: (sha256, file) as printed."""
    capsys.readouterr()
    assert hall_cli.main(["sync", "--db", str(db), "--export", str(out), *extra]) == 0
    text = capsys.readouterr().out
    return text.split("sha256: ")[1].split()[0], Path(text.split("已导出成绩包: ")[1].split("\n")[0])


def test_export_prints_sha_and_is_repeatable(tmp_path, make_hall, capsys):
    db, _ = make_hall("17")
    out = tmp_path / "r.hallresult"
    sha, path = _hall_export(db, out, capsys)
    assert sha == bundle_id(out.read_bytes()) and Path(path) == out
    usb = tmp_path / "usb"
    usb.mkdir()
    sha2, path2 = _hall_export(db, usb, capsys)
    assert sha2 == sha and Path(path2).name == f"result-17-all-g{json.loads(out.read_bytes())['payload']['generation']}-{sha[:12]}.hallresult"
    one, _ = _hall_export(db, tmp_path / "r01.hallresult", capsys, "--sitting", "D1S1-R01")
    assert json.loads((tmp_path / "r01.hallresult").read_bytes())["payload"]["scope"] == "D1S1-R01" and one != sha


def test_county_run_mixed_folder(tmp_path, make_hall, start_central, site_keys, proxy):
    from sync_proxy import cut_each_once
    usb = tmp_path / "usb"
    (usb / "sub").mkdir(parents=True)
    dbs = [make_hall(n)[0] for n in ("1", "2", "3", "42")]
    from hall_server.outbox import export_bundle
    paths = [export_bundle(db, usb if i % 2 else usb / "sub")[0] for i, db in enumerate(dbs)]
    central = start_central()
    # site 3 was already uploaded by the site itself
    assert upload_bundle(paths[2], central.url).state == "accepted"
    # a truncated copy and a forged one
    (usb / "broken.hallresult").write_bytes(paths[0].read_bytes()[:5000])
    payload = json.loads(paths[1].read_bytes())["payload"]
    (usb / "forged.hallresult").write_bytes(sign_payload(payload, site_keys["42"][0], "2"))
    px = proxy(central.port, cut_each_once())
    out = io.StringIO()
    report = tmp_path / "summary.csv"
    s = county_run(usb, px.url, out=out, report_path=report, chunk_size=4096, **FAST)
    assert len(s["accepted"]) == 3 and len(s["already"]) == 1 and len(s["refused"]) == 2 and not s["pending"]
    assert {r["reason"]["code"] for r in s["refused"]} == {"malformed", "wrong_key"}
    text = out.getvalue()
    assert "新接收 3，中心已有 1，被拒收 2" in text and "#" in text
    rows = list(csv.reader(open(report, encoding="utf-8-sig")))
    assert rows[0][0] == "结果" and len(rows) == 7
    # a second run changes nothing
    s2 = county_run(usb, central.url, out=io.StringIO(), chunk_size=4096, **FAST)
    assert len(s2["already"]) == 4 and len(s2["refused"]) == 2
    assert len(central.store.bundles()) == 4


def test_usb_import_uses_the_same_checks(tmp_path, make_hall, public_keys, capsys, central_db):
    db, info = make_hall("17")
    f = tmp_path / "r.hallresult"
    _hall_export(db, f, capsys)
    bad = tmp_path / "bad.hallresult"
    data = bytearray(f.read_bytes())
    data[-30] ^= 1
    bad.write_bytes(bytes(data))
    keys = tmp_path / "site_keys.json"
    keys.write_text(json.dumps(public_keys))
    ak = tmp_path / "keys.json"
    ak.write_text(json.dumps(info["keys"]))
    capsys.readouterr()
    cdb = central_db()
    spool = ["--spool-dir", str(central_db.spool(cdb))] if central_db.spool(cdb) else []
    rc = central_cli.main(["import", "--db", str(cdb), *spool, "--site-keys", str(keys), "--answer-keys", str(ak),
                           str(f), str(bad), str(f)])
    out = capsys.readouterr().out.splitlines()
    assert rc == 2
    assert out[0].startswith("已接收") and out[1].startswith("拒收") and out[2].startswith("中心已有")
    st = Store(cdb, spool_dir=central_db.spool(cdb))
    assert len(st.bundles()) == 1 and st.bundles()[0]["source"] == "usb"
    assert all(r["centre_score"] is not None for r in st.results() if r["status"] not in ("absent",))
    st.close()
    assert sync_cli.main(["verify", str(f), "--site-keys", str(keys)]) == 0
    assert sync_cli.main(["verify", str(bad), "--site-keys", str(keys)]) == 2


def test_serve_subprocess_and_upload_cli(tmp_path, make_hall, public_keys, central_db):
    db, _ = make_hall("17")
    keys = tmp_path / "site_keys.json"
    keys.write_text(json.dumps(public_keys))
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cdb = central_db()
    spool = ["--spool-dir", str(central_db.spool(cdb))] if central_db.spool(cdb) else []
    env.pop("HALL_CENTRAL_ADMIN_TOKEN", None)
    srv = subprocess.Popen([sys.executable, "-m", "sync.central", "serve", "--db", str(cdb), *spool,
                            "--site-keys", str(keys), "--port", str(port)], cwd=ROOT, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                requests.get(url + "/api/health", timeout=0.5)
                break
            except requests.RequestException:
                time.sleep(0.05)
        r = subprocess.run([sys.executable, "-m", "hall_server", "sync", "--db", str(db), "--url", url],
                           cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        assert "市定考办已接收：回执号 1" in r.stdout            # the outbox is beside the database
        from hall_server.outbox import last_state
        st = last_state(tmp_path / "outbox")
        assert st["state"] == "accepted" and st["receipt"]["site_no"] == "17"
        f = next((tmp_path / "outbox").glob("*.hallresult"))
        r = subprocess.run([sys.executable, "-m", "sync", "upload", "--bundle", str(f), "--url", url],
                           cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0 and json.loads(r.stdout)["duplicate"] is True
        # the admin token generated at this first start was printed once on stderr
        assert requests.get(url + "/api/status").status_code == 401
        banner = ""
        while "Bearer" not in banner:
            line = srv.stderr.readline()
            assert line, banner            # EOF: the server never printed the token
            banner += line
        token = banner.split("Bearer ")[1].split()[0]
        st = requests.get(url + "/api/status", headers={"Authorization": f"Bearer {token}"}).json()
        assert st["totals"]["bundles"] == 1
    finally:
        srv.terminate()
        srv.wait(10)
        srv.stderr.close()


def test_concurrent_finalize_of_one_upload_answers_the_same(tmp_path, make_hall, public_keys, central_db,
                                                           site_keys):
    import threading
    db, _ = make_hall("17")
    from hall_server.result_export import build_result_bundle
    data = build_result_bundle(db)
    cdb = central_db()
    st = Store(cdb, site_keys=public_keys, spool_dir=central_db.spool(cdb))
    proof = sign_open(site_keys["17"][0], "17", bundle_id(data), len(data))
    u = st.open_upload(bundle_id(data), len(data), "17", proof["sig"])["upload_id"]
    st.put_chunk(u, 0, data)
    out = []
    ts = [threading.Thread(target=lambda: out.append(st.finalize_upload(u))) for _ in range(5)]
    [t.start() for t in ts]
    [t.join(20) for t in ts]
    assert [o[0] for o in out] == ["accepted"] * 5 and len({o[1]["receipt_no"] for o in out}) == 1
    assert len(st.bundles()) == 1
    st.close()


def test_provisioning_shaped_inputs(tmp_path, make_hall, start_central, public_keys):
    """site_keys.json as provisioning writes it ({site_no: {public, bundle_id, name}}) and the
    answer keys straight from provisioning's out/centre/papers/ folder."""
    import sqlite3
    (db1, i1), (db2, i2) = make_hall("1"), make_hall("2")
    for db, plan in ((db1, "plan-one"), (db2, "plan-two")):
        c = sqlite3.connect(db)
        c.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('bundle_id', ?)", (plan,))
        c.commit()
        c.close()
    reg = {k: {"public": v, "bundle_id": {"1": "plan-one", "2": "plan-NEW"}.get(k, ""), "name": f"考点{k}"}
           for k, v in public_keys.items()}
    keys_file = tmp_path / "site_keys.json"
    keys_file.write_text(json.dumps(reg, ensure_ascii=False))
    papers = tmp_path / "centre" / "papers"
    papers.mkdir(parents=True)
    for no, info in (("1", i1), ("2", i2)):
        (papers / f"site_{int(no):03d}.json").write_text(json.dumps(
            {"site_no": no, "bundle_id": "x", "seed": 1, "items": {}, "keys": info["keys"]}))
    central = start_central(site_keys=keys_file, answer_keys=papers)
    for db in (db1, db2):
        from hall_server.outbox import export_bundle
        p, _ = export_bundle(db, tmp_path)
        assert upload_bundle(p, central.url).state == "accepted"
    assert all(r["centre_score"] is not None for r in central.store.results() if r["status"] != "absent")
    st = requests.get(central.url + "/api/status", headers=central.admin).json()
    probs = {s["site_no"]: s["problems"] for s in st["sites"]}
    assert not any("签发的不同" in p for p in probs["1"])
    assert any("签发的不同" in p for p in probs["2"])
