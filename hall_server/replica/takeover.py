"""`hall takeover --from FOLDER`: the spare laptop starts the site from the newest verified
copy on the stick (docs/takeover.md).

Before anything changes it checks the copy (page digest, then SQLite's quick_check on the
copy it made), the spare's address (phones only come back to the address their page came
from) and its clock. Then it records the takeover in the database, in one transaction:
- attempts whose deadline had passed by the copy's time are sealed, as the dead laptop's
  time-up sweep would have done (everything acknowledged before that time is in the copy);
- every running sitting is paused from the copy's time on, like a power cut: the outage
  is nobody's lost time, no deadline passes before the phones have replayed what they
  hold, and the invigilators press 恢复考试 once their room's phones are back;
- an incident per sitting (the room record's 其他), the takeover in meta and the audit chain.
"""
from __future__ import annotations

import os
import shutil
import sqlite3
import time
from datetime import datetime
from pathlib import Path

from ..db import schema
from ..durable import fsync_dir
from ..exam import audit, ops, room_ops
from ..exam.ops import receipt_key
from .copier import PHOTOS
from .files import copy_new
from .pages import digest, file_hashes
from .store import ReplicaDir, ReplicaError

ACTOR = "takeover"   # staff name on the pauses and incidents it records (audit: staff:takeover)


def _hms(ts: float, tz) -> str:
    return datetime.fromtimestamp(ts, tz).strftime("%H:%M:%S")


def _duration(seconds: float) -> str:
    m, s = divmod(int(abs(seconds)), 60)
    return f"{m} 分 {s} 秒" if m else f"{s} 秒"


class TakeoverRefused(RuntimeError):
    """Nothing was changed; the message (Chinese) says what to do."""


def check_address(marker: dict, spare_url: str) -> None:
    old = (marker.get("base_url") or "").rstrip("/")
    if old and old != spare_url.rstrip("/"):
        raise TakeoverRefused(
            f"本机地址 {spare_url} 与原考场电脑 {old} 不同：考生手机只会重连原地址。\n"
            f"请先拔下原电脑的网线/关闭其WiFi，再把本机地址设为原地址（见 docs/takeover.md，例如\n"
            f"  sudo nmcli con mod <连接名> ipv4.method manual ipv4.addresses <原IP>/24 && sudo nmcli con up <连接名>\n"
            f"或在配置中设置 server.public_url / server.port 与原电脑相同）。\n"
            f"确实要换地址（所有考生重新扫码）时加 --ignore-address。")


def install_copy(src: Path, db_path: Path, marker: dict, replace: bool) -> Path | None:
    """Copy the verified file into the data folder (temp, fsync, digest again, rename).
    Returns where an existing database was moved to, if any."""
    if db_path.exists() and not replace:
        raise TakeoverRefused(f"本机已有考点数据库 {db_path}。加 --replace 将其改名保留后再接管。")
    db_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = db_path.with_name("hall.db.takeover-tmp")
    shutil.copyfile(src, tmp)
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    got = file_hashes(tmp, marker["page_size"])
    if got is None or digest(got) != marker["digest"]:
        tmp.unlink(missing_ok=True)
        raise TakeoverRefused("从U盘复制到本机时出错（复制后的文件与副本不符）：请换一个USB口重试。")
    moved = None
    if db_path.exists():
        moved = db_path.with_name(f"hall.db.before-takeover-{time.strftime('%Y%m%d-%H%M%S')}")
        for suffix in ("", "-wal", "-shm"):
            p = Path(str(db_path) + suffix)
            if p.exists():
                p.rename(Path(str(moved) + suffix))
    for suffix in ("-wal", "-shm", "-journal"):       # never let a stale log touch the copy
        Path(str(db_path) + suffix).unlink(missing_ok=True)
    os.replace(tmp, db_path)
    fsync_dir(db_path.parent)
    return moved


def record(conn: sqlite3.Connection, marker: dict, now: float, tz) -> dict:
    """The takeover in the database (one transaction); returns what it did."""
    t_r = marker["taken_at"]
    meta = dict(conn.execute("SELECT key, value FROM meta"))
    conn.execute("BEGIN IMMEDIATE")
    try:
        sealed = ops.finalize_due(conn, t_r, receipt_key(meta["site_key_private"]))
        text = (f"考点服务器（{marker.get('host') or '原电脑'}）故障，{_hms(now, tz)} 由备用电脑从实时备份接管；"
                f"备份时间 {_hms(t_r, tz)}，本场自该时刻起暂停，恢复后考生时间顺延。")
        paused = []
        for (sitting_id,) in conn.execute("SELECT sitting_id FROM sittings WHERE status = 'started'").fetchall():
            room_ops.pause(conn, sitting_id, "考点服务器故障，备用电脑接管", t_r, ACTOR)
            room_ops.incident(conn, sitting_id, "system", text, now, ACTOR)
            paused.append(sitting_id)
        info = {"replica_taken_at": t_r, "replica_seq": marker.get("seq"), "from_host": marker.get("host"),
                "sealed_at_replica_time": [r["ticket"] for r in sealed.attempts], "paused": paused}
        conn.executemany("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                         [("takeover_at", repr(now)), ("takeover_replica_at", repr(t_r)),
                          ("takeover_replica_seq", str(marker.get("seq")))])
        audit.append(conn, now, "system", "takeover", None, None, info)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return info


def prepare(cfg, source: str, replace: bool = False, ignore_address: bool = False,
            now: float | None = None) -> list[str]:
    """Everything but serving: returns the lines the banner shows. TakeoverRefused or
    ReplicaError when the spare cannot take over (then nothing was changed)."""
    from .. import zone
    from ..net.lan import public_base_url

    path, marker, notes = ReplicaDir(source).latest()
    tz = zone.get(cfg["site"]["timezone"])
    now = time.time() if now is None else now
    t_r = marker["taken_at"]
    if now < t_r:
        raise TakeoverRefused(f"本机时间（{_hms(now, tz)}）早于备份时间（{_hms(t_r, tz)}）：本机时钟慢了。"
                              "请先把本机时间校准为北京时间，再接管。")
    if not ignore_address:
        check_address(marker, public_base_url(cfg))
    moved = install_copy(path, cfg.db_path, marker, replace)
    photos = cfg.data.get("proctor", {}).get("photo_dir")
    if photos and (Path(source) / PHOTOS).is_dir():
        copy_new(Path(source) / PHOTOS, cfg.data_dir / photos, None)
    conn = schema.connect(cfg.db_path, cfg["writer"]["synchronous"])
    try:
        check = conn.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise ReplicaError(f"副本数据库检查未通过: {check}")
        site_tz = zone.get(zone.name_for(dict(conn.execute("SELECT key, value FROM meta")), cfg))
        info = record(conn, marker, now, site_tz)
    finally:
        conn.close()
    lines = [f" 【备用电脑接管】考点: {marker.get('site_name')}（{marker.get('site_no')}）  原电脑: {marker.get('host')}",
             f" 备份时间 {_hms(t_r, site_tz)}（第 {marker.get('seq')} 次备份），距现在 {_duration(now - t_r)}。"
             "此后的答案由考生手机重新提交。"]
    lines += [f" 注意: {n}（已改用上一次备份）" for n in notes]
    if moved:
        lines.append(f" 本机原有数据库已改名保留: {moved}")
    if info["paused"]:
        lines.append(f" 进行中的 {len(info['paused'])} 个场次已自备份时间起暂停。各考场确认考生手机已重新连接后，"
                     "请在控制台该考场页面按“恢复考试”，考生时间顺延。")
    return lines
