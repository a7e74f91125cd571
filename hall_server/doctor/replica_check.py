"""Preflight of the replica a spare laptop takes over from ([replica], docs/takeover.md).
Every input is an argument; doctor/__init__.py reads the machine."""
from __future__ import annotations

from pathlib import Path

from .result import FAIL, PASS, WARN, Check
from .system_checks import MB, mount_of

TITLE = "实时备份"


def replica(path: Path | None, data_dir: Path, mounts_text: str, writable: bool | None, free_bytes: int | None,
            db_bytes: int, marker: dict | str | None, serving: bool, now: float, stale_after: float) -> Check:
    """`writable` None: the folder's parent (the stick's mount point) does not exist.
    `marker`: CURRENT.json as read, a Chinese error if unreadable, None if there is none."""
    if path is None:
        return Check("replica", TITLE, WARN, "未配置实时备份：本机故障时备用电脑无法接管",
                     "插入U盘，在配置文件 [replica] 中设置 path（见 docs/takeover.md）")
    if writable is None:
        return Check("replica", TITLE, FAIL, f"备份位置 {path} 不存在：U盘未插好或未挂载",
                     "插好U盘并挂载到配置的位置，再运行 hall doctor")
    if not writable:
        return Check("replica", TITLE, FAIL, f"备份位置 {path} 不可写",
                     "U盘需可由运行 hall 的用户写入（docs/takeover.md：挂载参数 uid=hall）")
    need = 2 * db_bytes + 64 * MB          # two copies and room to grow
    if free_bytes is not None and free_bytes < need:
        return Check("replica", TITLE, FAIL, f"U盘剩余 {free_bytes / MB:,.0f} MB，备份需要约 {need / MB:,.0f} MB",
                     "换一个空间更大的U盘")
    same = mount_of(path, mounts_text)[0] == mount_of(data_dir, mounts_text)[0]
    if isinstance(marker, str):
        return Check("replica", TITLE, FAIL, marker, "删除备份文件夹中的 CURRENT.json 后重新启动 hall")
    if serving:
        if marker is None:
            return Check("replica", TITLE, FAIL, "服务运行中，但U盘上还没有备份", "查看控制台的提示或 journalctl -u hall")
        age = now - marker["taken_at"]
        if age > stale_after:
            return Check("replica", TITLE, FAIL, f"最近一次备份在 {int(age)} 秒前，备份已停止更新",
                         "检查U盘是否插好、是否已满；查看 journalctl -u hall")
        detail = f"最近一次备份在 {age:.0f} 秒前（{path}）"
    else:
        detail = f"备份位置 {path} 可写" + (f"，剩余 {free_bytes / MB:,.0f} MB" if free_bytes is not None else "")
    if same:
        return Check("replica", TITLE, WARN, detail + "；但与数据库在同一块磁盘上，硬盘损坏时会一起丢失",
                     "把备份放到U盘或第二块硬盘上")
    return Check("replica", TITLE, PASS, detail)
