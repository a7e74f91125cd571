"""`hall install-service` / `hall uninstall-service`: hall as a systemd service.

The unit starts at boot (after the network is up: the QR codes carry the LAN address found
at start), runs as an unprivileged system user, logs to journald, restarts within a second
after a crash or a kill (phones reconnect and resend what they hold), and gets an open-file
limit sized from `server.max_connections`. Every command it runs goes through `run`, so a
test can see what would be done without touching the machine.
"""
from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .net.listen import FD_HEADROOM

UNIT_NAME = "hall.service"
UNIT_DIR = Path("/etc/systemd/system")
# A crash is followed by a restart after this many seconds; phones retry every few seconds,
# so one second keeps the gap short without a tight loop.
RESTART_SEC = 1
# Exit codes of `hall serve` that a restart cannot fix (cli.cmd_serve): 2 = bad config,
# missing assets or no database; 3 = the port is taken (another hall is serving).
NO_RESTART_EXIT = (2, 3)

Runner = Callable[..., subprocess.CompletedProcess]


@dataclass
class UnitSettings:
    exec_start: list[str]
    user: str
    data_dir: Path
    max_connections: int
    port: int
    docs: str = ""

    @property
    def nofile(self) -> int:
        return self.max_connections + FD_HEADROOM


def render_unit(s: UnitSettings) -> str:
    caps = ("# Port below 1024 without root.\nAmbientCapabilities=CAP_NET_BIND_SERVICE\n"
            if s.port < 1024 else "")
    docs = f"Documentation={s.docs}\n" if s.docs else ""
    return f"""[Unit]
Description=hall 考场服务器 (exam-hall appliance)
{docs}# The QR codes carry the LAN address found at start: wait for the network.
Wants=network-online.target
After=network-online.target
# Never stop restarting on exam day.
StartLimitIntervalSec=0

[Service]
Type=simple
User={s.user}
WorkingDirectory={s.data_dir}
ExecStart={shlex.join(s.exec_start)}
Environment=PYTHONUNBUFFERED=1
Restart=on-failure
RestartSec={RESTART_SEC}
RestartPreventExitStatus={" ".join(map(str, NO_RESTART_EXIT))}
TimeoutStopSec=20
# One connection per phone plus headroom (server.max_connections = {s.max_connections}).
LimitNOFILE={s.nofile}
StandardOutput=journal
StandardError=journal
SyslogIdentifier=hall
NoNewPrivileges=yes
ProtectSystem=full
PrivateTmp=yes
{caps}
[Install]
WantedBy=multi-user.target
"""


def parse_unit(text: str) -> dict[str, dict[str, str]]:
    """Sections and keys of a unit file (the last value of a repeated key wins)."""
    out: dict[str, dict[str, str]] = {}
    section = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = out.setdefault(line[1:-1], {})
        elif "=" in line and section is not None:
            k, v = line.split("=", 1)
            section[k.strip()] = v.strip()
    return out


def verify_unit(path: Path, run: Runner = subprocess.run) -> tuple[bool, str] | None:
    """`systemd-analyze verify`; None when the tool is not installed."""
    tool = shutil.which("systemd-analyze")
    if tool is None:
        return None
    r = run([tool, "verify", str(path)], capture_output=True, text=True, timeout=60)
    out = (r.stdout or "") + (r.stderr or "")
    # A bad value is only a warning to systemd ("Failed to parse …, ignoring"), exit code 0:
    # any line about this file counts as a failure.
    return r.returncode == 0 and path.name not in out, out


def systemd_running() -> bool:
    return Path("/run/systemd/system").is_dir()


def _docs_uri() -> str:
    doc = Path(__file__).resolve().parents[1] / "docs" / "install.md"
    return doc.as_uri() if doc.exists() else ""


def hall_executable() -> list[str]:
    """The `hall` script of this venv (absolute, as ExecStart needs); else python -m."""
    script = Path(sys.executable).parent / "hall"
    return [str(script)] if script.exists() else [sys.executable, "-m", "hall_server"]


def install(settings: UnitSettings, config_path: Path, unit_dir: Path = UNIT_DIR, run: Runner = subprocess.run,
            start: bool = True, running: bool | None = None) -> list[str]:
    """Create the user and data dir, write and verify the unit, enable and start it.
    Returns what was done, in Chinese; raises RuntimeError (Chinese) on a blocker."""
    done = []
    if run(["getent", "passwd", settings.user], capture_output=True).returncode != 0:
        r = run(["useradd", "--system", "--user-group", "--home-dir", str(settings.data_dir), "--no-create-home",
                 "--shell", "/usr/sbin/nologin", settings.user], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"无法创建系统用户 {settings.user}: {r.stderr.strip()}")
        done.append(f"已创建系统用户 {settings.user}（无登录权限）")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    run(["chown", "-R", f"{settings.user}:", str(settings.data_dir)], check=True)   # and its own group
    done.append(f"数据目录 {settings.data_dir} 归 {settings.user} 所有")
    unit_dir.mkdir(parents=True, exist_ok=True)
    path = unit_dir / UNIT_NAME
    part = path.with_suffix(".part")
    part.write_text(render_unit(settings), encoding="utf-8")
    os.replace(part, path)
    done.append(f"已写入服务文件 {path}（配置 {config_path}）")
    verdict = verify_unit(path, run)
    if verdict is None:
        done.append("未安装 systemd-analyze，跳过服务文件检查")
    elif not verdict[0]:
        raise RuntimeError(f"服务文件检查未通过 (systemd-analyze verify):\n{verdict[1]}")
    else:
        done.append("服务文件检查通过 (systemd-analyze verify)")
    if not (systemd_running() if running is None else running):
        done.append("本机未运行 systemd：服务文件已写好，开机自动运行需在装有 systemd 的系统上")
        return done
    run(["systemctl", "daemon-reload"], check=True)
    run(["systemctl", "enable", *(["--now"] if start else []), UNIT_NAME], check=True)
    done.append("已设为开机自动运行" + ("并已启动" if start else "") + "；查看日志: journalctl -u hall -f")
    return done


def uninstall(unit_dir: Path = UNIT_DIR, run: Runner = subprocess.run, running: bool | None = None) -> list[str]:
    """Stop and remove the service. The data directory and the user are kept: results are never deleted."""
    done = []
    path = unit_dir / UNIT_NAME
    if systemd_running() if running is None else running:
        run(["systemctl", "disable", "--now", UNIT_NAME], capture_output=True)
        done.append("已停止并取消开机自动运行")
    if path.exists():
        path.unlink()
        done.append(f"已删除服务文件 {path}")
        if systemd_running() if running is None else running:
            run(["systemctl", "daemon-reload"], check=True)
    else:
        done.append(f"服务文件 {path} 不存在")
    done.append("数据目录与系统用户保留（考试数据不会被删除）")
    return done


# -- the commands (hall_server/cli.py) ---------------------------------------------------

def cmd_install(config_path: str | None, cfg, user: str, unit_dir: str | None, start: bool) -> int:
    if not config_path:
        print("请用 --config 指定配置文件（安装包的 hall 命令默认使用 /etc/hall/config.toml）", file=sys.stderr)
        return 2
    if unit_dir is None and os.geteuid() != 0:
        print("需要管理员权限: sudo hall install-service", file=sys.stderr)
        return 2
    settings = UnitSettings(exec_start=[*hall_executable(), "--config", str(Path(config_path).resolve()), "serve"],
                            user=user, data_dir=cfg.data_dir.resolve(), max_connections=cfg["server"]["max_connections"],
                            port=cfg["server"]["port"], docs=_docs_uri())
    try:
        for line in install(settings, Path(config_path).resolve(), Path(unit_dir) if unit_dir else UNIT_DIR,
                            start=start):
            print(line)
    except (RuntimeError, OSError, subprocess.CalledProcessError) as e:
        print(f"安装服务失败: {e}", file=sys.stderr)
        return 2
    return 0


def cmd_uninstall(unit_dir: str | None) -> int:
    if unit_dir is None and os.geteuid() != 0:
        print("需要管理员权限: sudo hall uninstall-service", file=sys.stderr)
        return 2
    for line in uninstall(Path(unit_dir) if unit_dir else UNIT_DIR):
        print(line)
    return 0
