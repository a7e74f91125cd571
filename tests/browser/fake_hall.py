"""A stand-in hall server for the browser tests, written from docs/protocol.md alone.

Used only when the real server's fixture (`hall_server_proc` in tests/conftest.py) is
not available. It keeps its state in a JSON file so that it can be killed and
restarted like the real one. It is deliberately small: one room, one sitting, a few
candidates, no security beyond what the phone needs to see.

Run: python fake_hall.py --port 8123 --data /tmp/fake.json
Staff hook (test only): POST /_fake/start_sitting
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import time
from pathlib import Path

from flask import Flask, abort, jsonify, request, send_from_directory
from flask_socketio import SocketIO, emit, join_room

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "static_client" / "candidate"
VENDOR = ROOT / "static_client" / "node_modules" / "socket.io-client" / "dist"

TOKEN = "demo-room-1"
CANDIDATES = {
    "5001012023000001": {"id6": "12345X", "name": "张伟", "gender": "男", "category": "临床",
                         "level": "执业医师", "unit": "重庆市渝中区人民医院", "seat_no": 1},
    "5001012023000002": {"id6": "234567", "name": "李秀英", "gender": "女", "category": "中医",
                         "level": "执业医师", "unit": "重庆市中医院", "seat_no": 2},
}
DURATION_S = 3600
EARLIEST_S = 15 * 60
LATE_S = 10 * 60


def now_ms() -> int:
    return int(time.time() * 1000)


def make_paper(ticket: str) -> dict:
    cand = CANDIDATES[ticket]
    qs = []
    for no in range(1, 101):
        qs.append({
            "no": no,
            "stem": f"（示例题）第{no}题：患者，男，{40 + no % 30}岁，反复上腹痛{no % 9 + 1}年，"
                    f"进食后缓解，夜间痛醒。最可能的诊断是",
            "image": None,
            "options": [{"key": k, "text": t} for k, t in zip(
                "ABCDE", ["胃溃疡", "十二指肠溃疡", "慢性胃炎", "胃癌", "功能性消化不良"])],
        })
    body = {"ticket": ticket, "category": cand["category"], "title": "医师定期考核业务水平测评",
            "question_count": 100, "duration_s": DURATION_S, "questions": qs}
    h = hashlib.sha256(json.dumps(body, ensure_ascii=False, sort_keys=True).encode()).hexdigest()
    body["paper_hash"] = h
    return body


class Store:
    def __init__(self, path: Path):
        self.path = path
        if path.exists():
            self.d = json.loads(path.read_text())
        else:
            self.d = {"sitting": {"status": "planned", "started_at": None,
                                  "planned_start": "2023-09-04T09:00:00+08:00"},
                      "attempts": {}, "sessions": {}}

    def save(self):
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.d, ensure_ascii=False))
        os.replace(tmp, self.path)


def create_app(data: Path):
    app = Flask(__name__)
    sio = SocketIO(app, async_mode="threading", cors_allowed_origins="*")
    st = Store(data)
    sid_ticket: dict[str, str] = {}
    papers = {t: make_paper(t) for t in CANDIDATES}

    def ok(**kw):
        return {"ok": True, "now": now_ms(), **kw}

    def err(code, message, **extra):
        return {"ok": False, "now": now_ms(), "error": {"code": code, "message": message, **extra}}

    def state_of(ticket):
        a = st.d["attempts"][ticket]
        s = st.d["sitting"]
        if a["status"] == "answering" and a["deadline"] and now_ms() >= a["deadline"]:
            finish(ticket, "time_up")
        answered = sum(1 for v in a["answers"].values() if v[0] is not None)
        return {"status": a["status"], "sitting": dict(s), "opened_at": a["opened_at"],
                "deadline": a["deadline"],
                "earliest_submit": a["opened_at"] + EARLIEST_S * 1000 if a["opened_at"] else None,
                "late_entry_until": s["started_at"] + LATE_S * 1000 if s["started_at"] else None,
                "question_count": 100, "answered": answered, "receipt": a["receipt"],
                "submitted_at": a["submitted_at"], "submit_reason": a["submit_reason"],
                "paper_hash": papers[ticket]["paper_hash"]}

    def finish(ticket, reason):
        a = st.d["attempts"][ticket]
        if a["status"] in ("submitted", "terminated"):
            return
        a.update(status="submitted", submitted_at=now_ms(), submit_reason=reason,
                 receipt="-".join(secrets.token_hex(2).upper() for _ in range(3)))
        st.save()

    def cand_view(ticket):
        c = CANDIDATES[ticket]
        return {"ticket": ticket, "name": c["name"], "gender": c["gender"], "category": c["category"],
                "level": c["level"], "unit": c["unit"], "seat_no": c["seat_no"], "room": "第1考场",
                "sitting_no": 1, "site": "重庆市渝中区人民医院考点（演示）"}

    def bind(ticket):
        sid_ticket[request.sid] = ticket
        join_room("t:" + ticket)
        join_room("all")

    @app.get("/")
    def landing():
        return send_from_directory(CLIENT, "landing.html")

    @app.get("/r/<token>")
    def phone(token):
        return send_from_directory(CLIENT, "index.html")

    @app.get("/static/client/<path:name>")
    def client_file(name):
        resp = send_from_directory(CLIENT, name)
        resp.headers["Cache-Control"] = "no-cache"
        return resp

    @app.get("/vendor/socket.io.min.js")
    def vendor():
        return send_from_directory(VENDOR, "socket.io.min.js")

    def session_ticket():
        auth = request.headers.get("Authorization", "")
        sess = auth[7:] if auth.startswith("Bearer ") else ""
        return st.d["sessions"].get(sess)

    @app.get("/api/paper")
    def paper():
        ticket = session_ticket()
        if not ticket:
            return jsonify({"error": {"code": "bad_session"}}), 401
        if st.d["attempts"][ticket]["status"] not in ("answering", "submitted"):
            return jsonify({"error": {"code": "not_open"}}), 409
        p = papers[ticket]
        etag = '"%s"' % p["paper_hash"]
        if request.headers.get("If-None-Match") == etag:
            return "", 304, {"ETag": etag}
        resp = jsonify(p)
        resp.headers["ETag"] = etag
        return resp

    @app.get("/healthz")
    def healthz():
        return {"ok": True, "now": now_ms(), "fault": None}

    @app.post("/_fake/start_sitting")
    def start_sitting():
        st.d["sitting"].update(status="started", started_at=now_ms())
        st.save()
        for t in st.d["attempts"]:
            sio.emit("state", state_of(t), to="t:" + t)
        return {"ok": True}

    @app.post("/_fake/earliest_now")
    def earliest_now():
        # test hook: pretend the candidate opened the paper 15 minutes ago
        for a in st.d["attempts"].values():
            if a["opened_at"]:
                a["opened_at"] -= EARLIEST_S * 1000
        st.save()
        for t in st.d["attempts"]:
            sio.emit("state", state_of(t), to="t:" + t)
        return {"ok": True}

    @sio.on("login")
    def on_login(data):
        if not isinstance(data, dict):
            return err("bad_request", "请求格式错误")
        if data.get("token") != TOKEN:
            return err("bad_token", "二维码无效，请重新扫描考场二维码")
        t = str(data.get("ticket", ""))
        c = CANDIDATES.get(t)
        if not c or c["id6"] != str(data.get("id6", "")).upper():
            return err("bad_credentials", "准考证号或身份证号后6位不正确")
        a = st.d["attempts"].setdefault(t, {"status": "logged_in", "opened_at": None, "deadline": None,
                                           "answers": {}, "receipt": None, "submitted_at": None,
                                           "submit_reason": None, "device": None, "session": None})
        if a["device"] and a["device"] != data.get("device") and a["session"]:
            st.d["sessions"].pop(a["session"], None)
            sio.emit("replaced", {}, to="t:" + t)
        if a["device"] != data.get("device") or not a["session"]:
            a["session"] = secrets.token_urlsafe(16)
        a["device"] = data.get("device")
        st.d["sessions"][a["session"]] = t
        st.save()
        bind(t)
        return ok(session=a["session"], candidate=cand_view(t), state=state_of(t))

    @sio.on("resume")
    def on_resume(data):
        if not isinstance(data, dict):
            return err("bad_request", "请求格式错误")
        t = st.d["sessions"].get(data.get("session"))
        if not t:
            return err("bad_session", "登录已失效，请重新登录")
        if st.d["attempts"][t]["device"] != data.get("device"):
            return err("replaced", "您已在另一台设备登录，本设备已停止")
        bind(t)
        return ok(session=data["session"], candidate=cand_view(t), state=state_of(t))

    def current():
        return sid_ticket.get(request.sid)

    @sio.on("confirm")
    def on_confirm(data):
        t = current()
        if not t:
            return err("not_logged_in", "请先登录")
        a = st.d["attempts"][t]
        if a["status"] == "logged_in":
            a["status"] = "confirmed"
            st.save()
        return ok(state=state_of(t))

    @sio.on("open")
    def on_open(data):
        t = current()
        if not t:
            return err("not_logged_in", "请先登录")
        a = st.d["attempts"][t]
        if a["status"] == "logged_in":
            return err("not_confirmed", "请先核对信息")
        if st.d["sitting"]["status"] != "started":
            return err("not_started", "考试尚未开始")
        if a["status"] == "confirmed":
            a["status"] = "answering"
            a["opened_at"] = now_ms()
            a["deadline"] = a["opened_at"] + DURATION_S * 1000
            st.save()
        return ok(state=state_of(t))

    def store_answer(a, q, choice, seq):
        cur = a["answers"].get(str(q))
        if cur is None or seq > cur[1]:
            a["answers"][str(q)] = [choice, seq]

    @sio.on("answer")
    def on_answer(data):
        t = current()
        if not t:
            return err("not_logged_in", "请先登录")
        if not isinstance(data, dict) or not isinstance(data.get("q"), int) or not isinstance(data.get("seq"), int):
            return err("bad_request", "请求格式错误")
        a = st.d["attempts"][t]
        state_of(t)
        if a["status"] == "submitted":
            return err("submitted", "已交卷")
        if a["status"] != "answering":
            return err("not_answering", "未在答题")
        q = data["q"]
        if not 1 <= q <= 100:
            return err("bad_question", "题号错误")
        if data.get("choice") not in (None, "A", "B", "C", "D", "E"):
            return err("bad_choice", "选项错误")
        store_answer(a, q, data.get("choice"), data["seq"])
        st.save()
        cur = a["answers"][str(q)]
        return ok(q=q, choice=cur[0], seq=cur[1])

    @sio.on("submit")
    def on_submit(data):
        t = current()
        if not t:
            return err("not_logged_in", "请先登录")
        a = st.d["attempts"][t]
        state_of(t)
        if a["status"] == "answering":
            if now_ms() < a["opened_at"] + EARLIEST_S * 1000:
                return err("too_early", "开考15分钟后才能交卷", earliest_submit=a["opened_at"] + EARLIEST_S * 1000)
            for q, v in ((data or {}).get("answers") or {}).items():
                store_answer(a, int(q), v[0], int(v[1]))
            finish(t, "candidate")
        elif a["status"] != "submitted":
            return err("not_answering", "未在答题")
        s = state_of(t)
        return ok(receipt=a["receipt"], submitted_at=a["submitted_at"], answered=s["answered"], state=s)

    @sio.on("sync")
    def on_sync(data):
        t = current()
        if not t:
            return err("not_logged_in", "请先登录")
        return ok(answers=st.d["attempts"][t]["answers"], state=state_of(t))

    @sio.on("focus")
    def on_focus(data):
        return ok()

    @sio.on("disconnect")
    def on_disconnect(*args):
        sid_ticket.pop(request.sid, None)

    return app, sio


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--data", required=True)
    args = ap.parse_args()
    app, sio = create_app(Path(args.data))
    sio.run(app, host="127.0.0.1", port=args.port, allow_unsafe_werkzeug=True)


if __name__ == "__main__":
    main()
