"""Per-connection limits on Socket.IO events: no phone can take more than its share.

python-socketio runs every incoming event in a green thread of its own and queues every
outgoing packet without limit. One phone could therefore flood the writer with 20,000
answers (the other phones' acks waited behind them for over a second) or send `sync`
forever without reading, growing the server by hundreds of megabytes (issue 12, items 9
and 14). Here, per connection:

- at most `max_events_in_flight` events run at once; later ones wait in arrival order, at
  most `max_events_waiting` of them and `max_waiting_bytes` of frames. A phone replaying
  its whole queue after a reconnect (one event per unsaved question) fits easily;
  beyond that the connection is closed and the reason logged. The phone's client
  reconnects, resumes and replays what was not acknowledged: nothing acknowledged is lost.
- at most `max_outgoing_packets` packets wait to be written to it; beyond that (a phone
  that sends but never reads) it is closed the same way.
- a frame that cannot be decoded (bad JSON, JSON nested deeper than the parser allows, not
  an event) gets a `bad_request` ack when it names an ack id on a joined namespace, and one
  warning line per connection in the log, never a traceback.

Per event this costs a dict lookup and a counter: no timer, no lock (under eventlet the
counters are only touched between switches), and one raw greenlet (spawn_n) instead of
python-socketio's thread object per event. Only events that had to wait yield to the
loop before they run (one sleep(0) each), so a backlog is served fairly beside others.
In threading mode (debugging only) events run one at a time in the connection's reader
thread, so nothing is shared between threads.
"""
from __future__ import annotations

import logging
from collections import deque

from socketio import packet as sio_packet

from ..net import heartbeat
from .acks import fail

log = logging.getLogger(__name__)

_EVENT = "2"  # a Socket.IO EVENT packet starts with its type digit


class _Conn:
    __slots__ = ("running", "waiting", "waiting_bytes", "closed", "warned")

    def __init__(self):
        self.running = 0
        self.waiting: deque[str] = deque()
        self.waiting_bytes = 0
        self.closed = False
        self.warned = False


class Flow:
    def __init__(self, server, limits: dict, async_mode: str):
        """`server` is the python-socketio Server; `limits` the [server] config section."""
        self.server = server
        self.eio = server.eio
        self.packet_class = server.packet_class
        self.max_running = limits["max_events_in_flight"]
        self.max_waiting = limits["max_events_waiting"]
        self.max_waiting_bytes = limits["max_waiting_bytes"]
        self.max_outgoing = limits["max_outgoing_packets"]
        self.conns: dict[str, _Conn] = {}
        if async_mode == "eventlet":
            import eventlet

            self._spawn = eventlet.spawn_n
            self._yield = eventlet.sleep
        else:
            self._spawn = None  # events run inline in the reader thread

    def install(self) -> "Flow":
        server, eio = self.server, self.eio
        server.async_handlers = False  # we start (and bound) the handlers' green threads
        self._dispatch = server._handle_eio_message
        self._disconnected = server._handle_eio_disconnect
        self._send_packet = eio.send_packet
        eio.on("message", self.on_message)
        eio.on("disconnect", self.on_disconnect)
        eio.send_packet = self.send_packet  # Server.send goes through it too
        return self

    # -- incoming ---------------------------------------------------------------------
    def on_message(self, eio_sid: str, data) -> None:
        if data.__class__ is not str or data[:1] != _EVENT or eio_sid in self.server._binary_packet:
            return self._other(eio_sid, data)
        if self._spawn is None:
            return self._event(eio_sid, data)
        c = self.conns.get(eio_sid)
        if c is None:
            c = self.conns[eio_sid] = _Conn()
        if c.running < self.max_running:
            if not c.closed:
                c.running += 1
                self._spawn(self._work, eio_sid, c, data)
        elif len(c.waiting) < self.max_waiting and c.waiting_bytes + len(data) <= self.max_waiting_bytes:
            if not c.closed:
                c.waiting.append(data)
                c.waiting_bytes += len(data)
        elif not c.closed:
            self.close(eio_sid, c, f"more than {self.max_running} events running and "
                                   f"{len(c.waiting)} ({c.waiting_bytes} bytes) waiting")

    def _work(self, eio_sid: str, c: _Conn, data: str) -> None:
        """One of the connection's handler slots: runs its event, then whatever waits."""
        try:
            while True:
                try:
                    self._event(eio_sid, data)
                except Exception:  # a bug: the handlers' own net (acks.py) did not catch it
                    log.exception("event from %s failed", self._addr(eio_sid))
                if c.closed or not c.waiting:
                    break
                data = c.waiting.popleft()
                c.waiting_bytes -= len(data)
                # A backlog is drained one event per turn of the loop, so that a phone with
                # hundreds of quick events (sync) queued cannot hold the loop for their sum.
                self._yield()
        finally:
            c.running -= 1

    def _event(self, eio_sid: str, data: str) -> None:
        pkt = self.packet_class()
        try:
            pkt.decode(data)
        except Exception as e:  # noqa: BLE001 - any failure to parse is the phone's
            return self._bad(eio_sid, pkt, data, e)
        args = pkt.data
        if args.__class__ is not list or not args or args[0].__class__ is not str:
            return self._bad(eio_sid, pkt, data, None)
        self.server._handle_event(eio_sid, pkt.namespace, pkt.id, args)

    def _other(self, eio_sid: str, data) -> None:
        """Connect, disconnect, acks and binary attachments: rare, handled as before, except
        that a packet that does not parse is logged in one line instead of a traceback."""
        if data.__class__ is str and eio_sid not in self.server._binary_packet:
            pkt = self.packet_class()
            try:
                pkt.decode(data)
            except Exception as e:  # noqa: BLE001
                return self._bad(eio_sid, pkt, data, e)
        try:
            self._dispatch(eio_sid, data)
        except (ValueError, TypeError, KeyError, IndexError) as e:  # python-socketio's refusals
            self._bad(eio_sid, None, data, e)

    def _bad(self, eio_sid: str, pkt, data, exc) -> None:
        answered = False
        if pkt is not None and pkt.id is not None and pkt.packet_type == sio_packet.EVENT:
            ns = pkt.namespace or "/"
            sid = self.server.manager.sid_from_eio_sid(eio_sid, ns)
            if sid is not None and self.server.manager.is_connected(sid, ns):
                self.server._send_packet(eio_sid, self.packet_class(
                    sio_packet.ACK, namespace=ns, id=pkt.id, data=[fail("bad_request")]))
                answered = True
        c = self.conns.get(eio_sid)
        if c is None:
            c = self.conns[eio_sid] = _Conn()
        if not c.warned:
            c.warned = True
            log.warning("unreadable packet from %s (%s, %d bytes)%s; further ones from this connection are not logged",
                        self._addr(eio_sid), type(exc).__name__ if exc is not None else "not an event",
                        len(data) if isinstance(data, (str, bytes)) else 0, ", answered bad_request" if answered else "")

    # -- outgoing ---------------------------------------------------------------------
    def send_packet(self, eio_sid: str, pkt) -> None:
        s = self.eio.sockets.get(eio_sid)
        if s is not None and s.queue.qsize() >= self.max_outgoing:
            c = self.conns.get(eio_sid)
            if c is None:
                c = self.conns[eio_sid] = _Conn()
            if not c.closed:
                self.close(eio_sid, c, f"{self.max_outgoing} packets waiting to be sent: the phone does not read")
            return
        self._send_packet(eio_sid, pkt)

    # -- closing ----------------------------------------------------------------------
    def close(self, eio_sid: str, c: _Conn, why: str) -> None:
        """Close a connection that exceeded a limit, at once: nothing more is read from it
        (its reader sees end-of-file) and a writer stuck on a phone that does not read
        fails; Engine.IO's usual clean-up follows, disconnect handlers included."""
        c.closed = True
        c.waiting.clear()
        c.waiting_bytes = 0
        log.warning("closing connection from %s: %s", self._addr(eio_sid), why)
        s = self.eio.sockets.get(eio_sid)
        ws = getattr(s, "hall_ws", None)
        if ws is not None and heartbeat.cut(ws):
            return
        if s is not None:  # threading mode (debugging): Engine.IO's own close, off this call stack
            self.server.start_background_task(s.close, False, True)

    def on_disconnect(self, eio_sid: str, reason=None) -> None:
        c = self.conns.pop(eio_sid, None)
        if c is not None:
            c.closed = True  # events still waiting are dropped: nobody can receive their acks
            c.waiting.clear()
        return self._disconnected(eio_sid, reason)

    def _addr(self, eio_sid: str) -> str:
        return (self.server.environ.get(eio_sid) or {}).get("REMOTE_ADDR", "?")
