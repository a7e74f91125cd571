"""The baseline: a bare Flask-SocketIO app under eventlet that speaks the shape of docs/protocol.md.

Same async mode, same socket settings (ping interval/timeout, max buffer, listening socket,
connection cap) and the same gc.freeze() as the hall, but no database, no rules, no writer:
every request event is acknowledged at once. `answer` echoes {q, choice, seq}; `open` hands
out a deadline `--duration` seconds ahead and a 1-second sweeper pushes the time-up `state`
(like the hall's timeup_sweep_seconds = 1); GET /api/paper returns a 100-question paper of
the hall's size. The benchmark runs the same phones against this and against the hall, in
the same run, and reports the hall's figures as a ratio of these.

    python -m bench.echo_server --port 8099 [--duration 30]
"""
from __future__ import annotations

import argparse
import sys
import warnings


def build_paper(questions: int = 100) -> bytes:
    import json

    qs = []
    for q in range(1, questions + 1):
        opts = ["A", "B", "C", "D", "E"][: 4 + (q % 2)]
        qs.append({"no": q, "stem": f"【测试题】临床第{q}题", "image": None,
                   "options": [{"key": k, "text": f"选项{k}"} for k in opts]})
    paper = {"paper_hash": "0" * 64, "ticket": "echo", "category": "临床", "title": "医师定期考核业务水平测评",
             "question_count": questions, "duration_s": 3600, "questions": qs}
    return json.dumps(paper, ensure_ascii=False, separators=(",", ":")).encode()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--duration", type=float, default=3600, help="seconds from open to the pushed time-up")
    ap.add_argument("--ping-interval", type=int, default=25)
    ap.add_argument("--ping-timeout", type=int, default=20)
    ap.add_argument("--max-connections", type=int, default=4096)
    a = ap.parse_args(argv)

    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
    import eventlet

    eventlet.monkey_patch()
    import gc
    import secrets
    import time

    from flask import Flask, Response, request
    from flask_socketio import SocketIO

    from hall_server.net.listen import listen, serve_eventlet

    app = Flask(__name__)
    app.config.update(SECRET_KEY="echo", MAX_CONTENT_LENGTH=64 * 1024)
    sio = SocketIO(app, async_mode="eventlet", ping_interval=a.ping_interval, ping_timeout=a.ping_timeout,
                   max_http_buffer_size=64 * 1024, logger=False, engineio_logger=False)
    paper = build_paper()
    deadlines: dict[str, float] = {}     # sid -> deadline (epoch s) of an "open" attempt

    def now_ms() -> int:
        return int(time.time() * 1000)

    def state(status="answering", deadline=None, reason=None) -> dict:
        return {"status": status, "sitting": {"status": "started", "started_at": None, "planned_start": ""},
                "opened_at": None, "deadline": None if deadline is None else int(deadline * 1000),
                "earliest_submit": None, "late_entry_until": None, "question_count": 100, "answered": 0,
                "receipt": None, "submitted_at": None, "submit_reason": reason, "paper_hash": "0" * 64}

    @app.get("/healthz")
    def healthz():
        return {"ok": True, "now": now_ms(), "fault": None}

    @app.get("/api/paper")
    def get_paper():
        if request.headers.get("If-None-Match") == '"' + "0" * 64 + '"':
            return Response(status=304)
        return Response(paper, mimetype="application/json", headers={"ETag": '"' + "0" * 64 + '"'})

    @sio.on("disconnect")
    def on_disconnect(*_):
        deadlines.pop(request.sid, None)

    def welcome(session=None):
        r = {"ok": True, "now": now_ms(), "candidate": {"ticket": "echo"}, "state": state("logged_in")}
        if session:
            r["session"] = session
        return r

    sio.on_event("login", lambda p=None: welcome(secrets.token_urlsafe(24)))
    sio.on_event("resume", lambda p=None: welcome())
    sio.on_event("confirm", lambda p=None: {"ok": True, "now": now_ms(), "state": state("confirmed")})
    sio.on_event("sync", lambda p=None: {"ok": True, "now": now_ms(), "answers": {}, "state": state()})
    sio.on_event("focus", lambda p=None: {"ok": True, "now": now_ms()})
    sio.on_event("submit", lambda p=None: {"ok": True, "now": now_ms(), "receipt": "ECHO-ECHO-EC",
                                           "submitted_at": now_ms(), "answered": 0, "state": state("submitted")})

    @sio.on("open")
    def on_open(p=None):
        dl = deadlines.setdefault(request.sid, time.time() + a.duration)
        return {"ok": True, "now": now_ms(), "state": state(deadline=dl)}

    @sio.on("answer")
    def on_answer(p=None):
        p = p or {}
        return {"ok": True, "now": now_ms(), "q": p.get("q"), "choice": p.get("choice"), "seq": p.get("seq")}

    def sweeper():
        while True:
            sio.sleep(1)
            t = time.time()
            for sid, dl in list(deadlines.items()):
                if dl <= t:
                    del deadlines[sid]
                    sio.emit("state", state("submitted", dl, "time_up"), to=sid)

    sio.start_background_task(sweeper)
    gc.collect()
    gc.freeze()
    sock = listen(a.host, a.port)
    print(f"echo listening on {a.host}:{a.port}", flush=True)
    from hall_server.config import DEFAULTS

    # The hall's own network limits (header deadline, per-address cap), minus the room
    # reserve, which needs an exam to check credentials against.
    srv = dict(DEFAULTS["server"], max_connections=a.max_connections, max_connections_per_address=0,
               ping_interval=a.ping_interval, ping_timeout=a.ping_timeout)
    serve_eventlet(sock, app, srv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
