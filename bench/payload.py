"""Bytes per candidate: what one phone downloads from the hall, measured on the wire.

    python -m bench.payload [--out bench/results/payload.md]

Serves the demo site (provisioning's demo plan: 100 questions from the 【演示题】 bank, with
its images) from the real server, opens sitting 1, and for each of its candidates does what
the phone does: the app shell (/r/<token> and every asset it names), login, confirm, open,
GET /api/paper with `Accept-Encoding: gzip`, and the question images. Bytes are the HTTP
bodies as sent (before any decoding); "gzip -6" is what each body would be if compressed.
"""
from __future__ import annotations

import argparse
import gzip
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
HEADERS = {"Accept-Encoding": "gzip, deflate"}


def wire(session: requests.Session, url: str, **kw) -> tuple[bytes, bytes, requests.Response]:
    """(body as sent, body decoded, response)."""
    r = session.get(url, headers=HEADERS | kw.pop("headers", {}), stream=True, timeout=30, **kw)
    raw = r.raw.read(decode_content=False)
    decoded = gzip.decompress(raw) if r.headers.get("Content-Encoding") == "gzip" else raw
    return raw, decoded, r


def measure(hall, sitting_id: str, tickets: list[tuple[str, str]]) -> dict:
    from hallproc import Phone

    s = requests.Session()
    token = hall.qr_token(sitting_id)
    raw, html, _ = wire(s, f"{hall.url}/r/{token}")
    shell = {"/r/<token>": (len(raw), len(gzip.compress(html, 6)))}
    for ref in re.findall(rb'(?:src|href)="(/[^"]+)"', html):
        a_raw, a_body, r = wire(s, hall.url + ref.decode())
        assert r.ok, ref
        shell[ref.decode()] = (len(a_raw), len(gzip.compress(a_body, 6)))
    papers, images = [], []
    for ticket, id6 in tickets:
        p = Phone(hall, ticket, id6).connect()
        try:
            assert p.login(sitting_id, token)["ok"] and p.call("confirm")["ok"] and p.call("open")["ok"]
            raw, body, r = wire(s, hall.url + "/api/paper", headers={"Authorization": f"Bearer {p.session}"})
            assert r.ok and r.headers.get("Content-Encoding") == "gzip", r.status_code
            papers.append(len(raw))
            names = set(re.findall(rb'"image":\s*"([^"]+)"', body))
            images.append(sum(len(wire(s, f"{hall.url}/api/media/{n.decode()}")[0]) for n in names))
        finally:
            p.close()
    return {"shell": shell, "papers": papers, "images": images}


def report(m: dict, n_questions: int) -> str:
    kb = lambda b: f"{b / 1024:,.1f}"  # noqa: E731
    shell_wire = sum(v[0] for v in m["shell"].values())
    shell_gz = sum(v[1] for v in m["shell"].values())
    p_mean, p_max = statistics.mean(m["papers"]), max(m["papers"])
    i_mean, i_max = statistics.mean(m["images"]), max(m["images"])
    lines = [f"| what | sent now, KB | gzip -6, KB |", "|---|---|---|"]
    lines += [f"| shell: `{k}` | {kb(v[0])} | {kb(v[1])} |" for k, v in m["shell"].items()]
    lines += [f"| **app shell, total** | **{kb(shell_wire)}** | **{kb(shell_gz)}** |",
              f"| paper (`/api/paper`, {n_questions} questions, sent gzip), mean / max of {len(m['papers'])} | "
              f"{kb(p_mean)} / {kb(p_max)} | (same) |",
              f"| **shell + paper per candidate**, mean / max | **{kb(shell_wire + p_mean)} / {kb(shell_wire + p_max)}** | "
              f"**{kb(shell_gz + p_mean)} / {kb(shell_gz + p_max)}** |",
              f"| question images of the paper (PNG), mean / max | {kb(i_mean)} / {kb(i_max)} | — |"]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "payload.md"))
    a = ap.parse_args(argv)
    from hall_server.demo import shift_to_today
    from hallproc import HallProcess
    from provisioning.demo import build_demo_plan

    plan = shift_to_today(build_demo_plan())
    sid = sorted(s["sitting_id"] for s in plan["sittings"])[0]
    tickets = [(c["ticket"], c["id_number"][-6:]) for c in plan["candidates"] if c["sitting_id"] == sid]
    with tempfile.TemporaryDirectory(prefix="hall-payload-") as td:
        hall = HallProcess(Path(td) / "hall", plan).start()
        try:
            sio = hall.staff_socket("chief", "demo-chief")
            assert sio.call("start_sitting", {"sitting": sid}, namespace="/staff", timeout=30)["ok"]
            sio.disconnect()
            m = measure(hall, sid, tickets)
        finally:
            hall.stop()
    text = (f"Bytes per candidate, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, demo site, "
            f"{len(tickets)} candidates of {sid}:\n\n" + report(m, plan["exam"]["question_count"]) + "\n")
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
