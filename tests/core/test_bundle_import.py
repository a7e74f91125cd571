"""Signed, sealed site bundles on the hall side: verified before import, papers released
only with the sitting's release code at start."""
import subprocess
import sys

import pytest

from factories import make_plan
from hallproc import REPO, HallProcess, Phone


@pytest.fixture
def bundle(tmp_path):
    from contracts.keys import CENTRAL_PRIVATE, CENTRAL_PUBLIC, keygen
    from provisioning.provision import seal_plan

    keys = tmp_path / "keys"
    keygen(keys)
    plan = make_plan(candidates_per_room=4)
    path = tmp_path / "site_001.hallbundle"
    manifest, codes = seal_plan(plan, keys / CENTRAL_PRIVATE, path)
    return path, keys / CENTRAL_PUBLIC, codes, plan


def _import(hall_dir, path, key, *extra):
    return subprocess.run([sys.executable, "-m", "hall_server", "import", str(path), "--central-key", str(key),
                           "--data-dir", str(hall_dir), *extra], cwd=REPO, capture_output=True, text=True)


def test_bundle_import_then_release_at_start(tmp_path, bundle):
    path, pub, codes, plan = bundle
    r = _import(tmp_path / "h", path, pub, "--site-no", "1")
    assert r.returncode == 0, r.stderr
    assert '"sealed_sittings": 2' in r.stdout
    hall = HallProcess(tmp_path / "h", plan).start()
    try:
        c = plan["candidates"][0]
        p = Phone(hall, c["ticket"], c["id_number"][-6:]).connect()
        assert p.login(c["sitting_id"])["ok"] and p.call("confirm")["ok"]
        staff = hall.staff_socket()
        start = lambda **kw: staff.call("start_sitting", {"sitting": c["sitting_id"], "confirm_date": True, **kw},
                                        namespace="/staff")
        assert start()["error"]["code"] == "paper_sealed"
        wrong = start(release_code="AAAA-BBBB-CCCC")
        assert wrong["error"]["code"] == "bad_release_code"
        other_room = codes["D1S1-R02"]
        assert start(release_code=other_room)["error"]["code"] == "bad_release_code"
        with hall.db() as db:
            assert db.execute("SELECT COUNT(*) FROM papers").fetchone()[0] == 0
            assert db.execute("SELECT status FROM sittings WHERE sitting_id=?", (c["sitting_id"],)).fetchone()[0] == "planned"
        ok = start(release_code=codes[c["sitting_id"]].lower().replace("-", " "))
        assert ok["ok"], ok
        assert ok["sitting"]["sealed"] is False and ok["sitting"]["status"] == "started"
        assert p.call("open")["ok"]
        import requests

        paper = requests.get(hall.url + "/api/paper", headers={"Authorization": f"Bearer {p.session}"}).json()
        assert [q["stem"] for q in paper["questions"]] == [q["stem"] for q in plan["papers"][c["ticket"]]["questions"]]
        key = plan["keys"][c["ticket"]]
        for q, k in enumerate(key, start=1):
            assert p.answer(q, k)["ok"]
        staff.disconnect()
    finally:
        hall.stop()
    with hall.db() as db:
        assert db.execute("SELECT COUNT(*) FROM papers").fetchone()[0] == 4  # only the released room
        assert db.execute("SELECT released_by FROM sealed_sittings WHERE sitting_id='D1S1-R01'").fetchone()[0] == "chief"


def test_bundle_carries_no_plain_staff_password(bundle):
    from contracts.site_bundle import read_bundle

    path, pub, codes, plan = bundle
    manifest, _ = read_bundle(path, pub)
    staff = manifest["plan"]["staff"]
    assert staff and all("password" not in s and s["password_hash"].startswith("scrypt$") for s in staff)


def test_tampered_truncated_and_foreign_bundles_import_nothing(tmp_path, bundle):
    path, pub, codes, plan = bundle
    data = path.read_bytes()
    cases = {}
    for i, pos in enumerate([20, len(data) // 2, len(data) - 1]):
        flipped = bytearray(data)
        flipped[pos] ^= 0x01
        cases[f"flip{i}"] = bytes(flipped)
    cases["truncated"] = data[:-100]
    for name, blob in cases.items():
        f = tmp_path / f"{name}.hallbundle"
        f.write_bytes(blob)
        r = _import(tmp_path / name, f, pub)
        assert r.returncode == 2 and "未导入任何数据" in r.stderr, (name, r.stderr)
        assert not (tmp_path / name / "hall.db").exists() or _site_no(tmp_path / name / "hall.db") is None
    r = _import(tmp_path / "foreign", path, pub, "--site-no", "7")
    assert r.returncode == 2 and "不是本考点" in r.stderr
    from contracts.keys import keygen

    other_pub = keygen(tmp_path / "other")[1]
    r = _import(tmp_path / "otherkey", path, other_pub)
    assert r.returncode == 2 and "签名" in r.stderr


def _site_no(db_path):
    import sqlite3

    row = sqlite3.connect(db_path).execute("SELECT value FROM meta WHERE key='site_no'").fetchone()
    return row[0] if row else None


def test_activation_code_protects_the_roster(tmp_path):
    from contracts.site_bundle import BundleError, read_bundle
    from contracts.keys import CENTRAL_PRIVATE, CENTRAL_PUBLIC, keygen
    from provisioning.provision import seal_plan

    keygen(tmp_path / "keys")
    plan = make_plan(candidates_per_room=3)
    path = tmp_path / "b.hallbundle"
    code = "23456789ABC" + "D"
    from contracts.site_bundle import check_char

    code = code[:11] + check_char(code[:11])
    seal_plan(plan, tmp_path / "keys" / CENTRAL_PRIVATE, path, activation_code=code)
    pub = tmp_path / "keys" / CENTRAL_PUBLIC
    with pytest.raises(BundleError, match="激活码"):
        read_bundle(path, pub)
    wrong = "ZZZZZZZZZZZ"
    wrong += check_char(wrong)
    r = _import(tmp_path / "h1", path, pub, "--activation-code", wrong)
    assert r.returncode == 2 and "激活码不正确" in r.stderr
    r = _import(tmp_path / "h1", path, pub, "--activation-code", "2345-6789-ABCE")  # a typo
    assert r.returncode == 2 and "激活码输入有误" in r.stderr
    r = _import(tmp_path / "h2", path, pub, "--activation-code", code)
    assert r.returncode == 0, r.stderr


def test_config_rules_are_the_plans_defaults(tmp_path):
    """config [rules] duration / late entry / earliest submit are the defaults for a plan that
    does not state them; a number the plan (or its sitting) states wins."""
    import json
    import sqlite3

    plan = make_plan(candidates_per_room=2)
    for key in ("duration_minutes", "late_entry_minutes", "earliest_submit_minutes"):
        del plan["exam"][key]
    plan["sittings"][1]["late_entry_minutes"] = 7                 # one sitting states its own
    (tmp_path / "plan.json").write_text(json.dumps(plan, ensure_ascii=False), encoding="utf-8")
    (tmp_path / "c.toml").write_text("[rules]\nduration_minutes = 45\nlate_entry_minutes = 5\n"
                                     "earliest_submit_minutes = 20\n", encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "hall_server", "import", str(tmp_path / "plan.json"),
                        "--config", str(tmp_path / "c.toml"), "--data-dir", str(tmp_path / "h")],
                       cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    rows = sqlite3.connect(tmp_path / "h" / "hall.db").execute(
        "SELECT duration_s, late_entry_s, earliest_submit_s FROM sittings ORDER BY sitting_id").fetchall()
    assert rows == [(2700, 300, 1200), (2700, 420, 1200)]
