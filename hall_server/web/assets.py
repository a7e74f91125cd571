"""Where the browser assets live: the repo's static_client/, installed at set-up time."""
from __future__ import annotations

from pathlib import Path

STATIC_ROOT = Path(__file__).resolve().parents[2] / "static_client"
CANDIDATE_DIR = STATIC_ROOT / "candidate"
CONSOLE_DIR = STATIC_ROOT / "console"
SOCKETIO_JS = STATIC_ROOT / "vendor" / "node_modules" / "socket.io-client" / "dist" / "socket.io.min.js"


def check() -> list[str]:
    """Missing assets, as messages naming the command that installs them."""
    missing = []
    if not SOCKETIO_JS.exists():
        missing.append(f"缺少 {SOCKETIO_JS}：请运行 make setup（npm ci 安装 socket.io-client）")
    return missing
