"""SIGKILL while phones upload photos: every acknowledged capture survives, row and file
(the file is fsynced before the row is committed, the ack follows the commit)."""
from __future__ import annotations

import hashlib
import random
import sys
import threading
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

from proctorkit import astronaut_face, capture_id, jpeg, logged_in_phone, upload  # noqa: E402


def test_sigkill_during_uploads_loses_no_acknowledged_capture(tmp_path):
    from proctorkit import proctor_hall

    # the per-candidate cap must not end the run before the kill
    hall = proctor_hall(tmp_path, "max_captures_per_candidate = 100000\nface_worker = false\n")
    phones = [logged_in_phone(hall, i)[0] for i in range(6)]
    base = astronaut_face()
    acked: list[tuple[str, str]] = []
    stop = threading.Event()

    def uploader(phone, k):
        i = 0
        while not stop.is_set():
            data = jpeg(base.rotate(k * 7 + i % 13), quality=60 + i % 30)
            cid = capture_id()
            try:
                r = upload(hall, phone.session, data, slot=0, cid=cid)
            except requests.RequestException:
                return
            if r.status_code == 200 and r.json().get("ok"):
                acked.append((cid, hashlib.sha256(data).hexdigest()))
            i += 1

    threads = [threading.Thread(target=uploader, args=(p, k)) for k, p in enumerate(phones)]
    for t in threads:
        t.start()
    time.sleep(random.uniform(1.5, 3.0))
    hall.kill()
    stop.set()
    for t in threads:
        t.join(20)
    assert acked, "no upload was acknowledged before the kill"
    hall.start()
    with hall.db() as db:
        stored = {r["capture_id"]: r["sha256"] for r in db.execute("SELECT capture_id, sha256 FROM captures")}
    for cid, sha in acked:
        assert stored.get(cid) == sha, cid
        f = hall.data_dir / "photos" / sha[:2] / f"{sha}.jpg"
        assert hashlib.sha256(f.read_bytes()).hexdigest() == sha
    print(f"\nacknowledged before SIGKILL: {len(acked)}, all stored with their files")
    for p in phones:
        p.close()
    hall.stop()
