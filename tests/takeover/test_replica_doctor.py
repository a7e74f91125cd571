"""`hall doctor`'s line for the replica (hall_server/doctor/replica_check.py): pass and fail paths."""
from __future__ import annotations

from pathlib import Path

from hall_server.doctor.replica_check import replica
from hall_server.doctor.result import FAIL, PASS, WARN

# A laptop's layout under the test's own folder: the system disk mounted at ROOT, a USB
# stick at ROOT/media/usb (the check reads the mount table it is given, never the host's).
ROOT = Path(__file__).resolve().parent / "laptop"
MOUNTS = f"/dev/sda1 {ROOT} ext4 rw 0 0\n/dev/sdb1 {ROOT}/media/usb vfat rw,uid=999 0 0\n"
DATA = ROOT / "var/lib/hall"
USB = ROOT / "media/usb/hall-replica"
MB = 1 << 20


def check(**kw):
    args = dict(path=USB, data_dir=DATA, mounts_text=MOUNTS, writable=True, free_bytes=4000 * MB,
                db_bytes=100 * MB, marker=None, serving=False, now=1000.0, stale_after=15)
    return replica(**(args | kw))


def test_replica_checks():
    assert check(path=None).status == WARN                                   # not configured
    assert check().status == PASS                                            # before serving: writable, room
    c = check(writable=None)
    assert c.status == FAIL and "未插好" in c.detail                          # stick not mounted
    assert check(writable=False).status == FAIL
    c = check(free_bytes=200 * MB)
    assert c.status == FAIL and "剩余" in c.detail                            # two copies do not fit
    assert check(marker="副本标记无法读取").status == FAIL
    assert check(serving=True).status == FAIL                                # serving, nothing copied yet
    assert check(serving=True, marker={"taken_at": 990.0}).status == PASS
    c = check(serving=True, marker={"taken_at": 900.0})
    assert c.status == FAIL and "100 秒" in c.detail                          # copies stopped
    c = check(path=ROOT / "var/lib/hall-replica")
    assert c.status == WARN and "同一块磁盘" in c.detail                       # useless if the disk dies
