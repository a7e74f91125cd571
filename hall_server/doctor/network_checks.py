"""Preflight checks of how phones reach the laptop, and of other hall processes."""
from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from .result import FAIL, PASS, WARN, Check


def lan_address(host: str, public_url: str, lan: str, interfaces: list[str]) -> Check:
    """Phones need the laptop's WiFi address: not loopback, and public_url must be this laptop's."""
    if host in ("127.0.0.1", "localhost", "::1"):
        return Check("lan", "局域网地址", FAIL, f"server.host = {host}：只有本机能连接，手机连不上",
                     "把 server.host 改为 0.0.0.0")
    if public_url:
        h = urlsplit(public_url).hostname or ""
        if h not in interfaces:
            return Check("lan", "局域网地址", FAIL, f"server.public_url 的地址 {h} 不是本机地址（本机: {', '.join(interfaces)}）",
                         "改正 server.public_url，或留空自动检测")
        return Check("lan", "局域网地址", PASS, f"考生地址 {public_url}")
    if ipaddress.ip_address(lan).is_loopback:
        return Check("lan", "局域网地址", FAIL, "没有找到局域网地址（电脑未连接考场WiFi/路由器）",
                     "连接考场路由器后重新检查；路由器请为本机设置固定地址")
    return Check("lan", "局域网地址", PASS, f"本机局域网地址 {lan}（二维码使用此地址）")


def port_reachable(base_url: str, serving: bool, health_via_lan: dict | None, port: int) -> Check:
    """When hall is serving, its health page must answer on the LAN address, not only on loopback."""
    if not serving:
        return Check("port", "端口", PASS, f"hall 未运行；启动后手机通过 {base_url} 访问（端口 {port}）")
    if health_via_lan and health_via_lan.get("ok"):
        return Check("port", "端口", PASS, f"{base_url} 可以访问")
    return Check("port", "端口", FAIL, f"hall 正在运行，但 {base_url} 无法访问",
                 "检查 server.host（应为 0.0.0.0）与防火墙")


def second_process(processes: list[tuple[int, list[str]]], exclude: set[int], config_path: str | None, port: int,
                   port_in_use: bool, port_is_hall: bool, server_pid: int | None) -> Check:
    """Two halls on one database or one port must never run: the second would split the phones."""
    others = [(pid, argv) for pid, argv in processes if pid not in exclude]
    same = [pid for pid, argv in others if (config_path and config_path in argv) or str(port) in argv]
    if server_pid is not None:                    # asked by a running server about itself
        if same:
            return Check("second", "重复运行", FAIL, f"另有 hall 进程在运行（pid {', '.join(map(str, same))}）",
                         "只保留一个：sudo systemctl stop hall 或关闭另一个窗口")
        return Check("second", "重复运行", PASS, "只有本 hall 在运行")
    if port_in_use and not port_is_hall:
        return Check("second", "重复运行", FAIL, f"端口 {port} 被其他程序占用", "关闭该程序，或修改 server.port")
    if len(same) > 1:
        return Check("second", "重复运行", FAIL, f"有 {len(same)} 个 hall 在运行（pid {', '.join(map(str, same))}）",
                     "只保留一个：sudo systemctl stop hall 或关闭另一个窗口")
    if port_in_use:
        return Check("second", "重复运行", PASS, f"hall 已在端口 {port} 运行" + (f"（pid {same[0]}）" if same else ""))
    if others:
        return Check("second", "重复运行", WARN, f"本机另有 hall 在其他端口运行（pid {', '.join(str(p) for p, _ in others)}）",
                     "考试当天每台电脑只运行一个 hall")
    return Check("second", "重复运行", PASS, f"端口 {port} 空闲，没有其他 hall 在运行")
