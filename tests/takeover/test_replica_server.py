"""The copier under the running server (hall_server/replica/supervisor.py): the console is
told when the stick is missing or the copies stop, and a dead copier is restarted."""
from __future__ import annotations

import time

import requests

from factories import make_plan
from hallproc import HallProcess
from hall_server.replica.store import ReplicaDir
from takeoverkit import copier_pids, kill, wait


def alerts(hall) -> dict:
    return requests.get(hall.url + "/healthz", timeout=5).json()["alerts"]


def test_missing_stick_is_on_the_console_and_copies_resume_when_it_is_back(tmp_path):
    stick = tmp_path / "media" / "usb"              # not "mounted" yet
    folder = stick / "hall-replica"
    hall = HallProcess(tmp_path / "h", make_plan(), config_extra=(
        f'[replica]\npath = "{folder}"\ninterval_seconds = 0.2\nstale_alert_seconds = 1.0\n')).start()
    try:
        msg = wait(lambda: alerts(hall).get("replica"), 15, "the replica alert")
        assert "实时备份已" in msg and "FileNotFoundError" in msg and str(folder) in msg
        assert not stick.exists()                   # nothing written to the laptop's own disk
        chief = hall.staff_session()
        assert "实时备份已" in chief.get(hall.url + "/console/", timeout=30).text
        photo = hall.data_dir / "photos" / "ab" / ("ab" + "0" * 62 + ".jpg")   # a stored proctoring photo
        photo.parent.mkdir(parents=True)
        photo.write_bytes(b"\xff\xd8 a photo")
        stick.mkdir(parents=True)                   # the stick is plugged in
        wait(lambda: "replica" not in alerts(hall), 15, "the alert to clear")
        assert ReplicaDir(folder).latest()[1]["site_no"] == "1"
        assert (folder / "photos" / "ab" / photo.name).read_bytes() == photo.read_bytes()   # beside the copy
        # The copier dies: the server starts another, and copies go on.
        old = copier_pids(hall.proc.pid)
        assert len(old) == 1
        kill(old[0])
        wait(lambda: (lambda p: p and p != old)(copier_pids(hall.proc.pid)), 15, "a new copier")
        seq = ReplicaDir(folder).marker()["seq"]
        wait(lambda: ReplicaDir(folder).marker()["seq"] > seq, 15, "copies from the new copier")
        # The server goes: its copier goes with it (stdin closed), it does not run on.
        copier = copier_pids(hall.proc.pid)[0]
        hall.kill()
        wait(lambda: not __import__("os").path.exists(f"/proc/{copier}") or
             open(f"/proc/{copier}/stat").read().split()[2] == "Z", 10, "the copier to exit")
    finally:
        hall.stop()
