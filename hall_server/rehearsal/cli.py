"""`hall rehearsal start|stop|wipe` (docs/rehearsal.md)."""
from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import sys
import time
from pathlib import Path

from .build import MARK, RehearsalError, build

PIDFILE = "rehearsal.pid"


def folder_of(cfg) -> Path:
    """`[rehearsal] data_dir` (relative to the config file's folder), else <server.data_dir>/rehearsal."""
    raw = cfg["rehearsal"]["data_dir"]
    if not raw:
        return cfg.data_dir / "rehearsal"
    p = Path(raw)
    return p if p.is_absolute() or cfg.path is None else cfg.path.parent / p


def running_pid(folder: Path) -> int | None:
    """The pid of a rehearsal server serving this folder, if one runs."""
    try:
        pid = int((folder / PIDFILE).read_text().strip())
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    return pid if b"rehearsal" in cmd else None


def is_rehearsal_db(db: Path) -> bool:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'rehearsal'").fetchone()
    except sqlite3.Error:
        return False
    finally:
        conn.close()
    return bool(row) and row[0] == MARK


def start(args, cfg, serve) -> int:
    from .. import zone
    from ..doctor import probes

    folder = folder_of(cfg)
    if folder.resolve() == cfg.data_dir.resolve():
        print("[rehearsal] data_dir 不能与正式数据目录相同", file=sys.stderr)
        return 2
    if running_pid(folder):
        print(f"演练已在运行（进程 {running_pid(folder)}）。结束演练: hall rehearsal stop", file=sys.stderr)
        return 3
    srv = cfg["server"]
    if probes.port_in_use(srv["host"], srv["port"]):
        print(f"端口 {srv['port']} 已被占用（正式服务正在运行？）。演练前请先停止正式服务:\n"
              "  sudo systemctl stop hall\n演练结束后: hall rehearsal stop，再 sudo systemctl start hall", file=sys.stderr)
        return 3
    db = folder / "hall.db"
    if not db.exists():
        try:
            summary = build(cfg.db_path, db, cfg["rehearsal"], zone.get(zone.name_for({}, cfg)))
        except RehearsalError as e:
            print(f"无法开始演练: {e}", file=sys.stderr)
            return 2
        print(f"已生成演练数据（{folder}）: {summary['rooms']} 个考场，{summary['candidates']} 名考生（含演练考生）",
              flush=True)
    elif not is_rehearsal_db(db):
        print(f"{db} 不是演练数据库，拒绝使用", file=sys.stderr)
        return 2
    logins = (folder / "演练考生.txt").read_text(encoding="utf-8").splitlines()
    extra = [" 【模拟演练】练习题，不计成绩；正式试卷和数据未被读取或改动。",
             f" 演练考生（全部见 {folder / '演练考生.txt'}）:", *("   " + x for x in logins[1:4]),
             " 登录控制台用正式账号。结束: Ctrl-C 或 hall rehearsal stop；删除演练数据: hall rehearsal wipe"]
    (folder / PIDFILE).write_text(str(os.getpid()))
    args.data_dir = str(folder)
    # the rehearsal never writes the stick the real exam replicates to (docs/rehearsal.md)
    args.extra_overrides = {"replica": {"path": ""}}
    try:
        return serve(args, extra)
    finally:
        (folder / PIDFILE).unlink(missing_ok=True)


def stop(cfg) -> int:
    folder = folder_of(cfg)
    pid = running_pid(folder)
    if pid is None:
        print("没有正在运行的演练")
        return 0
    os.kill(pid, signal.SIGTERM)
    for _ in range(100):
        if running_pid(folder) is None or not Path(f"/proc/{pid}").exists():
            break
        time.sleep(0.1)
    (folder / PIDFILE).unlink(missing_ok=True)
    print(f"演练已停止。演练数据仍在 {folder}；删除: hall rehearsal wipe；恢复正式服务: sudo systemctl start hall")
    return 0


def wipe(cfg) -> int:
    folder = folder_of(cfg)
    if running_pid(folder):
        print("演练正在运行：请先 hall rehearsal stop", file=sys.stderr)
        return 3
    if not folder.exists():
        print("没有演练数据")
        return 0
    real = cfg.data_dir.resolve()
    if folder.resolve() == real or folder.resolve() in real.parents:
        print(f"{folder} 包含正式数据目录，拒绝删除", file=sys.stderr)
        return 2
    db = folder / "hall.db"
    if db.exists() and not is_rehearsal_db(db):
        print(f"{db} 不是演练数据库，拒绝删除", file=sys.stderr)
        return 2
    shutil.rmtree(folder)
    print(f"已删除演练数据 {folder}")
    return 0


def cmd_rehearsal(args, cfg, serve) -> int:
    if args.action == "start":
        return start(args, cfg, serve)
    if args.action == "stop":
        return stop(cfg)
    return wipe(cfg)
