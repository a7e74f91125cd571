"""Finding the address phones must use: the laptop's LAN address, never 127.0.0.1."""
from __future__ import annotations

import fcntl
import ipaddress
import socket
import struct

SIOCGIFADDR = 0x8915


def _route_address() -> str | None:
    """The source address of the default route. A UDP connect sends no packet."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("192.0.2.1", 9))  # TEST-NET-1: never routed anywhere real
        return s.getsockname()[0]
    except OSError:
        return None
    finally:
        s.close()


def _interface_addresses() -> list[str]:
    """IPv4 addresses of every interface (a hotspot with no default route has one too)."""
    out = []
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for _, name in socket.if_nameindex():
            try:
                packed = fcntl.ioctl(s.fileno(), SIOCGIFADDR, struct.pack("256s", name[:15].encode()))
                out.append(socket.inet_ntoa(packed[20:24]))
            except OSError:
                continue
    finally:
        s.close()
    return out


def lan_address() -> str:
    candidates = [a for a in [_route_address(), *_interface_addresses()] if a]
    usable = [a for a in candidates if not ipaddress.ip_address(a).is_loopback
              and not ipaddress.ip_address(a).is_link_local]
    private = [a for a in usable if ipaddress.ip_address(a).is_private]
    if private:
        return private[0]
    if usable:
        return usable[0]
    return "127.0.0.1"


def public_base_url(cfg) -> str:
    override = cfg["server"]["public_url"].rstrip("/")
    if override:
        return override
    host = cfg["server"]["host"]
    if host in ("0.0.0.0", "", "::"):
        host = lan_address()
    scheme = "https" if cfg["server"]["tls_cert"] and cfg["server"]["tls_key"] else "http"
    return f"{scheme}://{host}:{cfg['server']['port']}"
