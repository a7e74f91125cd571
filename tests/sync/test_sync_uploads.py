"""Upload reservations at the centre (issue 12 item 7): opening one needs the site's
signature for that very file; the spool's budget counts bytes received, not sizes
declared; a reservation left idle is dropped within minutes; one site cannot block the
others."""
from __future__ import annotations

import hashlib
import json

import pytest
import requests

from sync.central.store import Store
from contracts.upload import upload_bundle
from hall_server.result_export import build_result_bundle
from contracts.upload_proof import OpenRefused, proof_path, sign_open

try:                        # absent before the fix (95b5123): those tests fail, the others still run
    from sync.central.uploads import UploadBusy, UploadLimits
except ImportError:
    UploadBusy = UploadLimits = None

MiB = 1024 * 1024


def _sha(i: int) -> str:
    return hashlib.sha256(f"bundle {i}".encode()).hexdigest()


def _open(st, site_keys, site, sha, size):
    p = sign_open(site_keys[site][0], site, sha, size)
    return st.open_upload(sha, size, p["site_no"], p["sig"])


def test_opening_an_upload_needs_the_sites_signature_for_that_file(start_central, site_keys):
    central = start_central()
    u = central.url + "/api/uploads"
    sha, size = _sha(1), 64 * MiB
    good = sign_open(site_keys["17"][0], "17", sha, size)
    cases = {
        "signature_required": {"sha256": sha, "size": size},
        "unknown_site": {**sign_open(site_keys["17"][0], "99", sha, size)},
        "bad_signature": {**sign_open(site_keys["42"][0], "17", sha, size)},          # another site's key
    }
    cases["other file"] = {**good, "sha256": _sha(2)}                                 # proof of another file
    cases["other size"] = {**good, "size": size - 1}
    cases["mangled"] = {**good, "sig": good["sig"][:-4] + "AAA="}
    for name, body in cases.items():
        r = requests.post(u, json=body)
        assert r.status_code in (401, 403), (name, r.status_code, r.text)
        err = r.json()["error"]
        assert err["code"] in ("signature_required", "unknown_site", "bad_signature") and err["message"], name
        if name in ("signature_required", "unknown_site", "bad_signature"):
            assert err["code"] == name
    assert central.store.count("uploads") == 0 and not list(central.store.spool.glob("*.part"))
    r = requests.post(u, json=good)
    assert r.status_code == 201 and r.json()["offset"] == 0


def test_declared_sizes_reserve_nothing_and_one_site_cannot_block_the_others(tmp_path, make_hall, start_central,
                                                                           site_keys):
    """The review's attack: 64 opens of 64 MiB with no byte sent. Now they need a site's key,
    a site holds at most a few, and what they declare reserves nothing: site 17 still uploads."""
    central = start_central()
    u = central.url + "/api/uploads"
    codes = [requests.post(u, json=sign_open(site_keys["42"][0], "42", _sha(i), 64 * MiB)).status_code
             for i in range(64)]
    per_site = 16                                              # UploadLimits.max_open_per_site
    assert codes[:per_site] == [201] * per_site and set(codes[per_site:]) == {503}
    db, _ = make_hall("17")
    f = tmp_path / "b.hallresult"
    data = build_result_bundle(db)
    f.write_bytes(data)
    proof = sign_open(site_keys["17"][0], "17", hashlib.sha256(data).hexdigest(), len(data))
    proof_path(f).write_text(json.dumps(proof))
    res = upload_bundle(f, central.url, chunk_size=4096)
    assert res.state == "accepted", res.reason


def test_spool_budget_counts_bytes_received(central_db, public_keys, site_keys):
    db = central_db()
    st = Store(db, site_keys=public_keys, spool_dir=central_db.spool(db),
               upload_limits=UploadLimits(max_spool_bytes=10_000))
    ups = [_open(st, site_keys, site, _sha(i), 60 * MiB)["upload_id"] for i, site in enumerate(("1", "2", "3"))]
    assert len(set(ups)) == 3                              # 180 MiB declared against a 10 kB budget: all open
    assert st.put_chunk(ups[0], 0, b"x" * 6000)["offset"] == 6000
    assert st.put_chunk(ups[1], 0, b"y" * 4000)["offset"] == 4000
    with pytest.raises(UploadBusy):                        # 10,001 bytes received would pass the budget
        st.put_chunk(ups[2], 0, b"z")
    assert st.upload_state(ups[2])["offset"] == 0 and (st.spool / f"{ups[2]}.part").stat().st_size == 0
    st.close()


def test_idle_reservations_expire_in_minutes(central_db, public_keys, site_keys):
    now = [1_000_000.0]
    db = central_db()
    st = Store(db, site_keys=public_keys, clock=lambda: now[0], spool_dir=central_db.spool(db),
               upload_limits=UploadLimits(idle_s=10 * 60, max_spool_bytes=100))
    idle = _open(st, site_keys, "1", _sha(1), 1000)["upload_id"]
    busy = _open(st, site_keys, "2", _sha(2), 1000)["upload_id"]
    st.put_chunk(idle, 0, b"x" * 60)
    for _ in range(3):                                     # bytes keep arriving: never idle
        now[0] += 6 * 60
        st.put_chunk(busy, st.upload_state(busy)["offset"], b"y" * 10)
    # 18 minutes later the idle one holds 60 of the 100 bytes; the busy one needs room
    st.put_chunk(busy, 30, b"y" * 30)
    assert st.upload_state(idle) is None and not (st.spool / f"{idle}.part").exists()
    assert st.upload_state(busy)["offset"] == 60
    now[0] += 11 * 60
    _open(st, site_keys, "3", _sha(3), 1000)               # an open drops what is idle too
    assert st.upload_state(busy) is None
    st.close()


def test_idle_minutes_is_a_setting(start_central, tmp_path):
    from sync.central import cli
    assert start_central().store.upload_limits.idle_s == UploadLimits().idle_s == 30 * 60
    assert start_central(upload_idle_minutes=5).store.upload_limits.idle_s == 300
    with pytest.raises(SystemExit):
        cli.main(["serve", "--db", str(tmp_path / "x.db"), "--site-keys", "k.json",
                  "--upload-idle-minutes", "soon"])


def test_the_export_writes_the_proof_and_the_county_run_uses_it(tmp_path, make_hall, start_central, proxy,
                                                                central_db):
    from sync_proxy import cut_each_once
    from hall_server.outbox import export_bundle
    db, _ = make_hall("17")
    path, sha = export_bundle(db, tmp_path)
    proof = json.loads(proof_path(path).read_text())
    assert proof["sha256"] == sha and proof["site_no"] == "17" and proof["size"] == path.stat().st_size
    central = start_central()
    px = proxy(central.port, cut_each_once())
    res = upload_bundle(path, px.url, chunk_size=2048, sleep=lambda s: None)
    assert res.state == "accepted", res.reason
    assert sum(1 for c in px.cuts if c[1] == "PUT") > 3       # resumable: chunk by chunk
    # without the .sig file (an older stick) the whole file goes in one request, same checks
    proof_path(path).unlink()
    central2 = start_central(db=central_db("other"))
    res = upload_bundle(path, central2.url)
    assert res.state == "accepted" and central2.store.count("uploads") == 0


def test_open_refused_is_a_clear_error(public_keys):
    from contracts.upload_proof import verify_open
    with pytest.raises(OpenRefused) as e:
        verify_open({"sha256": _sha(1), "size": 1}, public_keys)
    assert e.value.status == 401 and "签名" in e.value.message_zh
