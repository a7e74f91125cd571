"""The hall server with experimental patches, for evidence only (`bench.run --hall-patch ...`).

    HALL_BENCH_PATCHES=nodelay,gclog,freeze python -m bench.patched_hall --config CFG serve

Patches (none is applied by default; `make bench` measures the server as it is). Since
3a070f9 the server itself has nodelay, sioroute, freeze, switch and the shared option-key
tuples (proposals whose diffs were removed in 701695f); the switches remain for measuring older trees and variants.
  nodelay   TCP_NODELAY on the listening socket (accepted sockets inherit it on Linux), so an
            ack written right after a `state` push is not held back by Nagle's algorithm
            waiting for the phone's delayed ACK (~40 ms).
  freeze    every HALL_BENCH_FREEZE_EVERY seconds (default 5): gc.collect(1); gc.freeze() - as in
            the gc-pauses proposal (now in the server). The connections' objects, which live all sitting,
            leave the collector's generations and a full collection never walks them. Pair
            with sioroute, else per-event garbage cycles that reached gen 2 get frozen (a leak).
  switch    sys.setswitchinterval(HALL_BENCH_SWITCH, default 0.0005 s instead of 0.005 s): the
            writer thread re-takes the GIL after each SQLite call sooner while the event loop is busy.
  writerlog one JSON line per group commit to HALL_BENCH_WRITERLOG: {"t", "n" ops, "ms" the commit
            took in the writer thread (BEGIN..COMMIT incl. fsync), "q" still queued after it}.
  nopush    an answer no longer triggers on_attempt (no `state` push to the phone, no console
            row): measured what those two pushes cost per answer. A no-op since d738332, where
            answers call on_progress (console rows batched per second) instead.
  gccensus  every 10 s a DEBUG_SAVEALL collection; the types of the cyclic garbage go to
            HALL_BENCH_GCLOG + ".census" (what makes the full collections long).
  sioroute  a Flask URL rule for /socket.io/, so that the request context Flask-SocketIO pushes
            for every event matches instead of raising NotFound (see _sioroute).
  looplag   log every event-loop stall > 15 ms (a 5 ms sleep that woke late) to HALL_BENCH_LAGLOG.
  gclog     record every collection taking >= 1 ms, with its generation, to HALL_BENCH_GCLOG
            (one JSON line each: {"t", "gen", "ms", "collected", ...}). With HALL_BENCH_GCSIZES=1
            each gen-1/2 line also has "sizes" (objects in the collected generations, and their
            referents) and "big" (the four containers with most referents): what a pause walks.
            Costly: for finding what is young, not for latency figures.
  oldtimers the eventlet timers per message that net/heartbeat.py and the writer's wait removed
            (a socket timeout per recv, a queue timeout per send, an eventlet.Timeout per
            writer call), to measure the change A/B in one session.
  gcthreshold gc.set_threshold(HALL_BENCH_GCTHRESHOLD, default 10000,10,10): fewer, larger young
            collections (tried 2026-11-23: p99 a little lower, max not; not adopted).
"""
from __future__ import annotations

import collections
import gc
import json
import os
import sys
import threading
import time

PATCHES = {p for p in os.environ.get("HALL_BENCH_PATCHES", "").split(",") if p}


def _nodelay() -> None:
    import socket

    from hall_server.net import listen as listen_mod

    orig = listen_mod.listen

    def listen(host, port, backlog=2048):
        sock = orig(host, port, backlog)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    listen_mod.listen = listen


def _gclog() -> None:
    path = os.environ.get("HALL_BENCH_GCLOG", "gc.log")
    f = open(path, "a", buffering=1)
    started = {}

    def cb(phase, info):
        if phase == "start":
            if info["generation"] >= 1 and os.environ.get("HALL_BENCH_GCSIZES"):
                objs = [o for g in range(info["generation"] + 1) for o in gc.get_objects(g)]
                started["sizes"] = [len(objs), sum(len(gc.get_referents(o)) for o in objs)]
                big = sorted(objs, key=lambda o: len(gc.get_referents(o)), reverse=True)[:4]
                started["big"] = [(type(o).__name__, len(gc.get_referents(o)), repr(o)[:80]) for o in big]
                started["types"] = collections.Counter(type(o).__name__ for o in objs).most_common(10)
                del objs, big
            started["t"] = time.perf_counter()
        else:
            ms = (time.perf_counter() - started.get("t", time.perf_counter())) * 1000
            if ms >= 1.0:
                f.write(json.dumps({"t": time.time(), "gen": info["generation"], "ms": round(ms, 2),
                                    "collected": info["collected"], "frozen": gc.get_freeze_count(),
                                    "counts": gc.get_count(), "sizes": started.pop("sizes", None), "big": started.pop("big", None), "types": started.pop("types", None),
                                    "thread": threading.current_thread().name}) + "\n")

    gc.callbacks.append(cb)


def _freeze() -> None:
    from hall_server import app as app_mod

    every = float(os.environ.get("HALL_BENCH_FREEZE_EVERY", "5"))
    orig = app_mod.Hall.start_background

    def start_background(self):
        orig(self)

        def freezer():
            while True:
                self.socketio.sleep(every)
                gc.collect(1)     # young generations only: cheap
                gc.freeze()       # O(1): splices the generations onto the permanent one
        self.socketio.start_background_task(freezer)

    app_mod.Hall.start_background = start_background


def _looplag() -> None:
    """A green thread that sleeps 5 ms in a loop and logs every wake-up later than 15 ms:
    stalls of the whole event loop, whatever their cause."""
    from hall_server import app as app_mod

    path = os.environ.get("HALL_BENCH_LAGLOG", "looplag.log")
    orig = app_mod.Hall.start_background

    def start_background(self):
        orig(self)
        f = open(path, "a", buffering=1)

        def monitor():
            while True:
                t = time.perf_counter()
                self.socketio.sleep(0.005)
                ms = (time.perf_counter() - t) * 1000
                if ms > 15:
                    f.write(json.dumps({"t": time.time(), "ms": round(ms, 1)}) + "\n")
        self.socketio.start_background_task(monitor)

    app_mod.Hall.start_background = start_background


def _oldtimers() -> None:
    """Undo net/heartbeat.py and the writer's timer-less wait: an eventlet timer per socket read,
    per websocket send-queue wait and per writer call, as before 2026-11-23 (A/B evidence)."""
    from hall_server.db import waiters
    from hall_server.net import heartbeat

    heartbeat.install = lambda: None

    def wait(self, event, timeout=None):
        import eventlet

        if timeout is None:
            event.wait()
            return True
        with eventlet.Timeout(timeout, False):
            event.wait()
            return True
        return False

    waiters.EventletWaiters.wait = wait


def _writerlog() -> None:
    from hall_server.db import writer as writer_mod

    path = os.environ.get("HALL_BENCH_WRITERLOG", "writer.log")
    f = open(path, "a", buffering=1)
    orig = writer_mod.Writer._commit

    def _commit(self, conn, batch):
        t = time.perf_counter()
        orig(self, conn, batch)
        f.write(json.dumps({"t": time.time(), "n": len(batch), "ms": round((time.perf_counter() - t) * 1000, 2),
                            "q": len(self._q)}) + "\n")

    writer_mod.Writer._commit = _commit


def _nopush() -> None:
    from hall_server.exam import service as service_mod

    orig = service_mod.ExamService.answer

    def answer(self, *a, **kw):
        push, self.on_attempt = self.on_attempt, lambda ticket: None
        try:
            return orig(self, *a, **kw)
        finally:
            self.on_attempt = push

    service_mod.ExamService.answer = answer


def _gccensus() -> None:
    """Every 10 s: collect with DEBUG_SAVEALL and log what the cyclic garbage is made of."""
    from collections import Counter

    from hall_server import app as app_mod

    path = os.environ.get("HALL_BENCH_GCLOG", "gc.log") + ".census"
    orig = app_mod.Hall.start_background

    def start_background(self):
        orig(self)

        def census():
            while True:
                self.socketio.sleep(10)
                gc.set_debug(gc.DEBUG_SAVEALL)
                gc.collect()
                gc.set_debug(0)
                kinds = Counter(type(o).__module__ + "." + type(o).__qualname__ for o in gc.garbage)
                frames = Counter(o.f_code.co_filename.rsplit("/", 2)[-1] + ":" + o.f_code.co_name
                                 for o in gc.garbage if type(o).__name__ == "frame")
                n = len(gc.garbage)
                gc.garbage.clear()
                with open(path, "a") as f:
                    f.write(json.dumps({"t": time.time(), "garbage": n, "types": kinds.most_common(25),
                                        "frames": frames.most_common(15)}) + "\n")
        self.socketio.start_background_task(census)

    app_mod.Hall.start_background = start_background


def _sioroute() -> None:
    """A Flask URL rule for the Socket.IO path. Flask-SocketIO runs every event handler inside
    app.request_context(environ) of the connection's upgrade request, whose path is
    /socket.io/; Flask matches it against the URL map on push, werkzeug raises NotFound, and
    Flask keeps the exception (request.routing_exception) - whose traceback holds the frames,
    which hold the request context: one reference cycle (~50 objects, with the Request,
    RequestContext, AppContext, headers...) per event, freed only by the cyclic GC. With a
    matching rule (two: werkzeug tells websocket upgrades apart) the match succeeds and nothing is raised. The view is never reached over
    HTTP: the Socket.IO middleware answers /socket.io/ before Flask routes."""
    from hall_server import app as app_mod

    orig = app_mod.create_app

    def create_app(cfg=None):
        hall = orig(cfg)
        if "socketio_path" in hall.app.view_functions:
            return hall                       # the server has the rule itself (3a070f9 and later)
        view = lambda: ("", 404)  # noqa: E731
        hall.app.add_url_rule("/socket.io/", "socketio_path", view, methods=["GET", "POST"])
        hall.app.add_url_rule("/socket.io/", "socketio_path_ws", view, websocket=True)
        return hall

    app_mod.create_app = create_app


def _switch() -> None:
    sys.setswitchinterval(float(os.environ.get("HALL_BENCH_SWITCH", "0.0005")))


def _apply() -> None:
    if "writerlog" in PATCHES:
        _writerlog()
    if "switch" in PATCHES:
        _switch()
    if "nopush" in PATCHES:
        _nopush()
    if "nodelay" in PATCHES:
        _nodelay()
    if "gclog" in PATCHES:
        _gclog()
    if "freeze" in PATCHES:
        _freeze()
    if "gccensus" in PATCHES:
        _gccensus()
    if "sioroute" in PATCHES:
        _sioroute()
    if "looplag" in PATCHES:
        _looplag()
    if "oldtimers" in PATCHES:
        _oldtimers()
    if "gcthreshold" in PATCHES:
        gc.set_threshold(*(int(x) for x in os.environ.get("HALL_BENCH_GCTHRESHOLD", "10000,10,10").split(",")))


def main() -> int:
    from hall_server import cli

    orig = cli._prepare_async

    def prepare(cfg):
        orig(cfg)          # eventlet.monkey_patch() first, as the real CLI does
        _apply()           # then import and patch the server's modules

    cli._prepare_async = prepare
    return cli.main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
