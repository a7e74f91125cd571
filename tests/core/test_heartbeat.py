"""net/heartbeat.py: Engine.IO websockets without a timer per message, and the writer's
wait without an eventlet.Timeout per call. What the timeouts guarded is checked in
tests/faults/test_silent_phone.py against the real server."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import engineio
import pytest
from engineio import packet
from engineio import socket as eio_socket

from hall_server.net import heartbeat

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def installed(monkeypatch):
    """install() on a stub handler, undone afterwards (the test process is not the server)."""
    seen = []

    def stub(self, ws):
        seen.append(ws)
        return "handled"

    monkeypatch.setattr(eio_socket.Socket, "_websocket_handler", stub)
    monkeypatch.setattr(eio_socket.Socket, "poll", eio_socket.Socket.poll)
    monkeypatch.setattr(heartbeat, "_installed", False)
    heartbeat.install()
    return seen


def _engine_socket(upgraded: bool):
    server = engineio.Server(async_mode="threading", ping_interval=25, ping_timeout=20)
    s = eio_socket.Socket(server, "sid1")
    s.upgraded = upgraded
    return s


def test_websocket_keeps_blocking_and_gets_a_kernel_send_limit(installed):
    from eventlet.greenio import GreenSocket

    lst = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(lst.getsockname())
    conn, _ = lst.accept()
    green = GreenSocket(conn)
    green.settimeout(75)  # what the WSGI server sets for HTTP requests

    class WS:
        socket = green

    try:
        assert _engine_socket(True)._websocket_handler(WS()) == "handled"
        assert green.gettimeout() is None
        assert len(installed) == 1  # the library handler ran, once
        green.settimeout(45)  # what engineio does first thing in its handler
        assert green.gettimeout() is None  # no Timer armed per recv
        assert green.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT) == 45_000
    finally:
        for s in (client, conn, lst):
            s.close()


def test_websocket_writer_takes_every_queued_packet_and_stops_at_close(installed):
    s = _engine_socket(True)
    pkts = [packet.Packet(packet.MESSAGE, data=f"m{i}") for i in range(3)]
    for p in pkts:
        s.queue.put(p)
    assert s.poll() == pkts
    s.queue.put(pkts[0])
    s.queue.put(None)  # Socket.close(): the writer must stop, and see None again next time
    assert s.poll() == [pkts[0]]
    assert s.poll() == []


def test_polling_transport_keeps_its_timeout(installed, monkeypatch):
    s = _engine_socket(False)
    monkeypatch.setattr(s.server, "ping_interval", 0.1)
    monkeypatch.setattr(s.server, "ping_timeout", 0.1)
    with pytest.raises(engineio.exceptions.QueueEmpty):
        s.poll()


PROBE = textwrap.dedent("""
    import json, time
    import eventlet
    from eventlet import hubs
    from hall_server.db import waiters
    from hall_server.db.writer import StorageError, Writer

    def quick(conn):
        return 2

    def slow(conn):
        time.sleep(1.2)  # the writer's OS thread, not patched: a stuck disk
        return 1

    w = Writer(DB, waiters.EventletWaiters()).start()
    hub = hubs.get_hub()
    ticks = []
    def ticker():
        while True:
            ticks.append(time.monotonic())
            eventlet.sleep(0.01)
    eventlet.spawn(ticker)
    eventlet.sleep(0.05)

    n_timers = lambda: len(hub.timers) + len(hub.next_timers)
    before = n_timers()
    results = [w.call(quick) for _ in range(300)]
    after = n_timers()

    t0 = time.monotonic()
    try:
        w.call(slow, timeout=0.3)
        timed_out = False
    except StorageError:
        timed_out = True
    waited = time.monotonic() - t0
    late = w.call(quick, timeout=5)  # once the slow op has finished; its late result is dropped
    w.stop()
    gaps = [b - a for a, b in zip(ticks, ticks[1:])]
    print(json.dumps({"results": sorted(set(results)), "timers": [before, after], "timed_out": timed_out,
                      "waited": waited, "late": late, "max_gap": max(gaps)}))
""")


def test_writer_wait_arms_no_timer_per_call_and_still_times_out(tmp_path):
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", f"DB = {str(tmp_path / 'w.db')!r}\n" + PROBE],
                         cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-3000:]
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["results"] == [2]
    before, after = r["timers"]
    assert after - before < 10, r  # with an eventlet.Timeout per call: +300 cancelled timers
    assert r["timed_out"] and 0.3 <= r["waited"] < 0.3 + 0.5 + 0.3, r  # deadline + REAP_EVERY + slack
    assert r["late"] == 2
    assert r["max_gap"] < 0.2, r  # the loop kept running while the call waited
