"""Preflight checks of the laptop itself: disk, file limits, power, font, printer, firewall.
Every input is an argument (see probes.py for where the real values come from)."""
from __future__ import annotations

import re
from pathlib import Path

from .result import FAIL, PASS, WARN, Check

MB = 1024 * 1024
# File systems that lose everything at power-off or cannot be written.
VOLATILE_FS = {"tmpfs", "ramfs", "devtmpfs"}
READ_ONLY_FS = {"squashfs", "iso9660", "udf"}
# Removable-media file systems: no journal, a yanked stick corrupts the database.
FRAGILE_FS = {"vfat", "exfat", "msdos", "ntfs", "ntfs3", "fuseblk"}


def disk_space(free_bytes: int, candidates: int, db_bytes: int, min_free_mb: int, per_candidate_kb: int) -> Check:
    """Room for the site's answers and logs, plus a result export as big as the database."""
    need = max(min_free_mb * MB, candidates * per_candidate_kb * 1024 + 2 * db_bytes)
    detail = f"数据目录所在磁盘剩余 {free_bytes / MB:,.0f} MB，本考点 {candidates} 名考生约需 {need / MB:,.0f} MB"
    if free_bytes < need:
        return Check("disk", "磁盘空间", FAIL, detail, "清理磁盘或把数据目录（server.data_dir）放到空间足够的磁盘")
    return Check("disk", "磁盘空间", PASS, detail)


def mount_of(path: Path, mounts_text: str) -> tuple[str, str, str]:
    """(mount point, fs type, options) of the file system holding ``path``."""
    best = ("/", "unknown", "")
    target = str(Path(path).resolve())
    for line in mounts_text.splitlines():
        parts = line.split()
        if len(parts) < 4:
            continue
        mnt = parts[1].replace("\\040", " ")
        if (target == mnt or target.startswith(mnt.rstrip("/") + "/")) and len(mnt) >= len(best[0]):
            best = (mnt, parts[2], parts[3])
    return best


def real_disk(data_dir: Path, mounts_text: str) -> Check:
    mnt, fs, opts = mount_of(data_dir, mounts_text)
    detail = f"数据目录 {data_dir} 在 {mnt}（{fs}）"
    if fs in VOLATILE_FS:
        return Check("real_disk", "数据存放", FAIL, detail + "：内存盘，断电或重启后答案全部丢失",
                     "把 server.data_dir 设到硬盘上的目录，如 /var/lib/hall")
    if fs in READ_ONLY_FS or "ro" in opts.split(","):
        return Check("real_disk", "数据存放", FAIL, detail + "：只读，无法保存答案", "把 server.data_dir 设到可写的硬盘目录")
    if fs in FRAGILE_FS:
        return Check("real_disk", "数据存放", WARN, detail + "：U盘类文件系统，拔出或断电易损坏",
                     "考试数据请放在电脑硬盘上；U盘只用于导出成绩")
    return Check("real_disk", "数据存放", PASS, detail)


def open_files(soft: int, hard: int, max_connections: int, headroom: int) -> Check:
    need = max_connections + headroom
    detail = f"可打开文件数上限 {hard}（当前 {soft}），{max_connections} 个连接需要 {need}"
    if hard != -1 and hard < need:
        return Check("nofile", "连接数上限", FAIL, detail,
                     "用 hall install-service 安装服务（自动设置 LimitNOFILE），或调低 server.max_connections")
    return Check("nofile", "连接数上限", PASS, detail)


def power(supplies: list[dict], battery_min_percent: int) -> Check:
    mains = [s for s in supplies if s.get("type") == "Mains"]
    batteries = [s for s in supplies if s.get("type") == "Battery"]
    on_ac = any(s.get("online") == "1" for s in mains)
    level = min((int(b["capacity"]) for b in batteries if str(b.get("capacity", "")).isdigit()), default=None)
    if not batteries:
        return Check("power", "电源", PASS, "未检测到电池（台式机或外接电源）" if not mains or on_ac else "未检测到电池")
    pct = f"电池 {level}%" if level is not None else "电池电量未知"
    if on_ac:
        return Check("power", "电源", PASS, f"已接通电源，{pct}")
    if level is not None and level < battery_min_percent:
        return Check("power", "电源", FAIL, f"未接通电源，{pct}（低于 {battery_min_percent}%）", "接通电源适配器；考试期间保持接电")
    return Check("power", "电源", WARN, f"未接通电源，{pct}", "接通电源适配器；考试期间保持接电")


def cjk_font(find_font) -> Check:
    """``find_font``: returns the font file or raises (contracts.fonts.find_font_file)."""
    try:
        path = find_font()
    except Exception as e:           # FontMissing, or reportlab absent
        return Check("font", "中文字体", FAIL, f"无法打印中文表格：{str(e)[:80]}",
                     "安装 fonts-wqy-microhei（安装包 debs/ 目录自带，install.sh 以 root 运行会自动安装）")
    return Check("font", "中文字体", PASS, f"文泉驿微米黑 {path}")


def printer(lpstat_output: str | None, expected: bool) -> Check:
    names = re.findall(r"^(?:printer|打印机)\s+(\S+)", lpstat_output or "", re.M)
    enabled = [n for n in names if re.search(rf"^(?:printer|打印机)\s+{re.escape(n)}\b.*(idle|printing|空闲|正在打印)",
                                            lpstat_output or "", re.M)]
    if enabled:
        return Check("printer", "打印机", PASS, f"可用打印机：{'、'.join(enabled)}")
    detail = "未安装打印服务 (lpstat)" if lpstat_output is None else (
        f"打印机不可用：{'、'.join(names)}" if names else "没有配置打印机")
    if expected:
        return Check("printer", "打印机", FAIL, detail, "连接并配置打印机（系统设置 → 打印机），或关闭 doctor.expect_printer 改用其他电脑打印PDF")
    return Check("printer", "打印机", WARN, detail + "（表格可另存PDF到其他电脑打印）")


def firewall(rules: dict[str, str | None], port: int) -> Check:
    """Rules that would drop phones' connections to ``port``: an input chain whose policy (or
    last rule) drops, with no rule accepting the port; ufw active without the port allowed."""
    p = str(port)
    problems = []
    ufw = rules.get("ufw") or ""
    if re.search(r"Status:\s*active", ufw) and not re.search(rf"^\s*{p}(/tcp)?\s+ALLOW", ufw, re.M):
        problems.append(f"ufw 已启用但未放行 {p}")
    nft = rules.get("nft") or ""
    for chain in re.finditer(r"chain (\S+) \{(.*?)\n\s*\}", nft, re.S):
        body = chain.group(2)
        if "hook input" not in body:
            continue
        drops = re.search(r"policy drop", body) or re.search(r"^\s*(drop|reject)\b[^\n]*$", body, re.M)
        accepts = re.search(rf"dport (?:{p}\b|\{{[^}}]*\b{p}\b[^}}]*\}})[^\n]*accept", body)
        if drops and not accepts:
            problems.append(f"nftables 链 {chain.group(1)} 默认丢弃且未放行 {p}")
    ipt = rules.get("iptables") or ""
    if re.search(r"^:INPUT (DROP|REJECT)", ipt, re.M) or re.search(r"^-A INPUT -j (DROP|REJECT)\s*$", ipt, re.M):
        if not re.search(rf"^-A INPUT .*--dports? (?:\S*,)?{p}\b.*-j ACCEPT", ipt, re.M):
            problems.append(f"iptables INPUT 默认丢弃且未放行 {p}")
    if problems:
        return Check("firewall", "防火墙", FAIL, "；".join(problems),
                     f"放行端口 {p}/tcp（如 sudo ufw allow {p}/tcp），或关闭防火墙")
    checked = [k for k, v in rules.items() if v is not None]
    return Check("firewall", "防火墙", PASS,
                 f"未发现拦截端口 {p} 的规则（已检查 {'、'.join(checked)}）" if checked else "未启用防火墙")
