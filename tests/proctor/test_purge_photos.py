"""`hall purge-photos`: photo files leave the laptop only after the centre confirmed a
bundle carrying them plus proctor.purge_after_days; never while the server runs (issue 16)."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from proctorkit import astronaut_face, jpeg, logged_in_phone, proctor_hall, upload  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def hall_cli(hall, *args):
    return subprocess.run([sys.executable, "-m", "hall_server", "--config", str(hall.config_path), *args],
                          cwd=REPO, capture_output=True, text=True, timeout=60)


def test_purge_after_a_confirmed_upload_only(tmp_path):
    hall = proctor_hall(tmp_path)
    phone, c = logged_in_phone(hall)
    assert upload(hall, phone.session, jpeg(astronaut_face()), slot=0).status_code == 200
    phone.close()
    r = hall_cli(hall, "purge-photos")
    assert r.returncode == 2 and "正在运行" in r.stderr            # never under a running server
    hall.stop()
    r = hall_cli(hall, "sync", "--export", str(hall.data_dir / "outbox"))
    assert r.returncode == 0, r.stderr
    bundle = next((hall.data_dir / "outbox").glob("*.hallresult"))
    # a capture after the export: not in any bundle the centre has
    hall.start()
    p2, c2 = logged_in_phone(hall, 1)
    assert upload(hall, p2.session, jpeg(astronaut_face().rotate(5)), slot=0).status_code == 200
    p2.close()
    hall.stop()
    files = lambda: sorted(p.name for p in (hall.data_dir / "photos").rglob("*.jpg"))  # noqa: E731
    assert len(files()) == 2
    r = hall_cli(hall, "purge-photos")                       # exported, not confirmed: nothing goes
    assert r.returncode == 0 and len(files()) == 2, r.stdout
    state = bundle.with_name(bundle.name + ".sync.json")
    state.write_text(json.dumps({"state": "accepted", "receipt": {"receipt_no": 1}, "at": time.time() - 10 * 86400}))
    assert len(files()) == 2 and "已删除 0" in hall_cli(hall, "purge-photos").stdout   # 30 days not passed
    r = hall_cli(hall, "purge-photos", "--days", "7")
    assert r.returncode == 0 and "已删除 1 个照片文件" in r.stdout, r.stdout
    assert len(files()) == 1
    with hall.db() as db:
        rows = {t: p for t, p in db.execute("SELECT ticket, purged_at FROM captures")}
        assert rows[c["ticket"]] is not None and rows[c2["ticket"]] is None
        assert db.execute("SELECT COUNT(*) FROM audit_log WHERE action = 'purge_photos'").fetchone()[0] == 1
    assert hall_cli(hall, "audit", "verify").returncode == 0
