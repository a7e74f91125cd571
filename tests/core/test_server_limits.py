"""The listening socket: 2,000 phones at once, and no silent second server on the port."""
import resource
import subprocess
import sys

import pytest
import requests
import websocket

from hallproc import REPO, HallProcess

CONNECTIONS = 2000


def test_two_thousand_simultaneous_connections(hall):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < CONNECTIONS + 200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, CONNECTIONS + 500), hard))
    url = hall.url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket"
    conns = []
    try:
        for _ in range(CONNECTIONS):
            ws = websocket.create_connection(url, timeout=10)
            assert ws.recv().startswith("0{")  # Engine.IO open packet
            conns.append(ws)
        # Every one is still served: each joins the default namespace and gets its ack.
        for ws in conns:
            ws.send("40")
        joined = sum(1 for ws in conns if ws.recv().startswith("40"))
        assert joined == CONNECTIONS
        # and the server still answers HTTP while holding them all
        assert requests.get(hall.url + "/healthz", timeout=5).json()["ok"]
    finally:
        for ws in conns:
            ws.close()


def test_second_server_on_the_same_port_fails_loudly(hall, tmp_path):
    second = HallProcess(tmp_path / "second", hall.plan, port=hall.port)
    proc = subprocess.run([sys.executable, "-m", "hall_server", "--config", str(second.config_path), "serve"],
                          cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 3
    assert "端口" in proc.stderr and "已被占用" in proc.stderr
    assert requests.get(hall.url + "/healthz", timeout=5).ok  # the first one is untouched


def test_lan_address_is_not_loopback_and_override_wins(tmp_path):
    from hall_server import config
    from hall_server.net import lan

    addr = lan.lan_address()
    has_lan = any(not a.startswith("127.") for a in lan.interface_addresses())
    if has_lan:
        assert not addr.startswith("127."), addr
    cfg = config.load(overrides={"server": {"host": "0.0.0.0", "port": 8080}})
    assert lan.public_base_url(cfg) == f"http://{addr}:8080"
    cfg = config.load(overrides={"server": {"public_url": "http://192.168.10.2:8080/"}})
    assert lan.public_base_url(cfg) == "http://192.168.10.2:8080"


def test_config_rejects_unknown_keys_and_bad_types(tmp_path):
    from hall_server import config

    p = tmp_path / "c.toml"
    p.write_text('[server]\nprot = 80\n')
    with pytest.raises(config.ConfigError, match="server.prot"):
        config.load(p)
    p.write_text('[server]\nport = "80"\n')
    with pytest.raises(config.ConfigError, match="server.port"):
        config.load(p)
    p.write_text('[server]\nasync_mode = "gevent"\n')
    with pytest.raises(config.ConfigError, match="async_mode"):
        config.load(p)
    example = config.load(REPO / "config.example.toml")
    assert example.data == config.DEFAULTS  # the example documents exactly the defaults
