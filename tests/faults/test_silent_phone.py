"""Phones that go silent (out of range, battery dead: no FIN, no RST) are reaped by the
Engine.IO heartbeat alone, now that the server arms no socket timeout per message
(hall_server/net/heartbeat.py): every dead connection's socket is closed on the server within
ping_interval + ping_timeout (+ the service task's sweep), its reader and writer green
threads end, and a phone that keeps answering through the same minutes is untouched.
Phones that leave cleanly or with a reset free their sockets as well."""
from __future__ import annotations

import os
import socket
import struct
import time

import websocket

from factories import fast_plan
from faultkit import FaultHall, setup_answering
from hallproc import Phone, RawSio

SILENT = 30
PING = 1  # ping_interval = ping_timeout = 1 s


def _open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_silent_phones_are_reaped_by_the_heartbeat(tmp_path):
    plan = fast_plan(candidates_per_room=2, questions=10, duration_minutes=30)
    hall = FaultHall(tmp_path / "h", plan, server_extra=f"ping_interval = {PING}\nping_timeout = {PING}\n").start()
    silent: list[websocket.WebSocket] = []  # handshakes done, then never a read or write
    live = None
    try:
        cand = setup_answering(hall, plan, plan["candidates"][:1])[0]
        live = Phone(hall, cand["ticket"], "", device=cand["device"]).connect()
        assert live.call("resume", {"session": cand["session"], "device": cand["device"]})["ok"]
        time.sleep(0.5)
        baseline = _open_fds(hall.proc.pid)

        silent = [RawSio(hall.url).ws for _ in range(SILENT)]
        assert _open_fds(hall.proc.pid) >= baseline + SILENT

        # The live phone answers all along; the silent ones must be gone within the
        # heartbeat's limit (2 s) plus one sweep of Engine.IO's service task (1 s) and slack.
        start, reaped_after, seq = time.monotonic(), None, 0
        while time.monotonic() - start < 2 * PING + 4:
            seq += 1
            ack = live.call("answer", {"q": 1 + seq % 10, "choice": "AB"[seq % 2], "seq": seq})
            assert ack["ok"], ack
            if reaped_after is None and _open_fds(hall.proc.pid) <= baseline:
                reaped_after = time.monotonic() - start
            time.sleep(0.1)
        assert reaped_after is not None, (baseline, _open_fds(hall.proc.pid))
        assert reaped_after <= 2 * PING + 2.5, reaped_after
        assert live.sio.connected

        # Each silent phone was told: the server closed its side (a close frame, or EOF).
        # A socket the server had left open would time out here instead.
        for ws in silent:
            ws.settimeout(2)
            try:
                while ws.recv_data_frame(True)[1].opcode != websocket.ABNF.OPCODE_CLOSE:
                    pass  # the pings it never answered, Engine.IO's close packet
            except (websocket.WebSocketConnectionClosedException, ConnectionError):
                pass  # EOF before the close frame: closed all the same

        # Phones that leave properly (close frame) or abruptly (TCP reset) free their
        # sockets too: the same close path, from the other end.
        for abrupt in (False, True):
            leaving = [RawSio(hall.url).ws for _ in range(10)]
            assert _open_fds(hall.proc.pid) >= baseline + 10
            for ws in leaving:
                if abrupt:
                    ws.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    ws.sock.close()
                else:
                    ws.close()
            end = time.monotonic() + 3
            while _open_fds(hall.proc.pid) > baseline and time.monotonic() < end:
                time.sleep(0.05)
            assert _open_fds(hall.proc.pid) <= baseline, ("abrupt" if abrupt else "clean", _open_fds(hall.proc.pid))
        assert live.call("answer", {"q": 1, "choice": "C", "seq": seq + 1})["ok"]
        assert "Traceback" not in hall.log.read_text(errors="replace")
    finally:
        for ws in silent:
            try:
                ws.close(timeout=0.1)
            except Exception:
                pass
        if live is not None:
            live.close()
        hall.stop()
