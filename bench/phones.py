"""The phone simulator: N candidates' phones in one asyncio process, written from docs/protocol.md.

Raw Engine.IO 4 / Socket.IO 5 text frames over websockets (no socket.io client library):
  server "0{...}" open -> client "40" connect -> server "40{...}";
  client "42<id>[event, payload]" -> server "43<id>[ack]"; server "42[event, data]" push;
  server "2" ping -> client "3" pong.  The staff console uses namespace "/staff" ("40/staff," ...).
The paper is fetched over plain HTTP/1.1 (GET /api/paper, Bearer session, If-None-Match).

Run by bench.run, never by hand: a JSON spec on stdin's first line; barrier lines on stdout
({"barrier": name}) answered by a line on stdin (the epoch time to go at); the result as the
last stdout line ({"result": {...}}).
"""
from __future__ import annotations

import asyncio
import gc
import json
import random
import resource
import sys
import time
from collections import Counter

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from bench.schedule import next_due

DUMPS = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
PING_GRACE = 60
BEHIND_S = 0.1        # a send this much after it was due counts as `behind` (see answering)


class Refused(Exception):
    pass


class Stats:
    def __init__(self) -> None:
        self.errors: Counter = Counter()     # unexpected failures (must be 0)
        self.refusals: Counter = Counter()   # expected refusals, e.g. time_up after the deadline
        self.disconnects = 0                 # connections the phone did not close itself
        self.lat: list[float] = []           # answer ack latency, ms, inside the window
        self.lat_at: list[float] = []        # when each of those answers was sent (epoch s)
        self.durable = 0                     # ok answer acks inside the window
        self.pushes: Counter = Counter()
        self.behind = 0                      # sends more than BEHIND_S after they were due
        self.behind_max = 0.0                # ... the latest of them, s
        self.measuring = False

    def err(self, code: str) -> None:
        self.errors[code] += 1


class SioConn:
    """One websocket connection speaking Socket.IO 5 on one namespace."""

    def __init__(self, url: str, stats: Stats, ns: str = "/", headers=None, on_event=None, on_close=None):
        self.url, self.stats, self.headers = url, stats, headers
        self.prefix = "" if ns == "/" else ns + ","
        self.on_event = on_event or (lambda ev, data: None)
        self.on_close = on_close or (lambda: None)
        self.pending: dict[int, asyncio.Future] = {}
        self.nid = 0
        self.ws = None
        self.reader: asyncio.Task | None = None
        self.closed = False
        self.intentional = False

    async def open(self, timeout: float = 20) -> "SioConn":
        self.ws = await connect(self.url, compression=None, ping_interval=None, open_timeout=timeout,
                                close_timeout=1, max_size=2 ** 22, additional_headers=self.headers,
                                user_agent_header=None)
        first = await asyncio.wait_for(self.ws.recv(), timeout)
        if not first.startswith("0"):
            raise Refused("no engine.io open: " + first[:80])
        await self.ws.send("40" + self.prefix)
        while True:
            msg = await asyncio.wait_for(self.ws.recv(), timeout)
            if msg == "2":
                await self.ws.send("3")
                continue
            if msg.startswith("42" + self.prefix):
                continue        # pushed by the connect handler before its ack (the console's `alerts`)
            break
        if not msg.startswith("40" + self.prefix):
            raise Refused("namespace refused: " + msg[:80])
        self.reader = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        plen = len(self.prefix)
        try:
            async for msg in self.ws:
                c = msg[0]
                if c == "2":
                    await self.ws.send("3")
                    continue
                if c != "4":
                    continue
                t = msg[1]
                body = msg[2 + plen:] if plen else msg[2:]
                if t == "3":
                    i = 0
                    while body[i].isdigit():
                        i += 1
                    fut = self.pending.pop(int(body[:i]), None)
                    if fut is not None and not fut.done():
                        fut.set_result(json.loads(body[i:])[0])
                elif t == "2":
                    ev = json.loads(body)
                    self.on_event(ev[0], ev[1] if len(ev) > 1 else None)
                elif t == "1":
                    break
        except (ConnectionClosed, OSError):
            pass
        except asyncio.CancelledError:
            return
        finally:
            if not self.closed:
                self.closed = True
                for fut in self.pending.values():
                    if not fut.done():
                        fut.set_exception(ConnectionError("closed"))
                self.pending.clear()
                if not self.intentional:
                    self.on_close()

    async def call(self, event: str, payload, timeout: float = 30):
        if self.closed:
            raise ConnectionError("closed")
        self.nid += 1
        fut = asyncio.get_running_loop().create_future()
        self.pending[self.nid] = fut
        await self.ws.send("42" + self.prefix + str(self.nid) + DUMPS([event, payload]))
        return await asyncio.wait_for(fut, timeout)

    async def close(self) -> None:
        self.intentional = True
        if self.reader:
            self.reader.cancel()
        self.closed = True
        try:
            await self.ws.close()
        except Exception:
            pass

    def abort(self) -> None:
        """Drop the TCP connection without a close frame (the phone's radio went away)."""
        self.intentional = True
        self.closed = True
        if self.reader:
            self.reader.cancel()
        self.ws.transport.abort()

    def zombify(self) -> None:
        """Stop reading and answering pings but keep the TCP connection: a WiFi drop the server
        can only notice by the Engine.IO ping timeout, as on a real WLAN."""
        self.intentional = True
        self.closed = True
        if self.reader:
            self.reader.cancel()


async def http_get(host: str, port: int, path: str, headers: dict, timeout: float = 30):
    async def go():
        r, w = await asyncio.open_connection(host, port)
        h = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        w.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n{h}\r\n".encode())
        data = await r.read()
        w.close()
        head, _, body = data.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        return status, body
    return await asyncio.wait_for(go(), timeout)


async def http_post(host: str, port: int, path: str, headers: dict, body: bytes, timeout: float = 30):
    async def go():
        r, w = await asyncio.open_connection(host, port)
        h = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        w.write(f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n"
                f"Content-Length: {len(body)}\r\n{h}\r\n".encode() + body)
        data = await r.read()
        w.close()
        head, _, rest = data.partition(b"\r\n\r\n")
        return int(head.split(b" ", 2)[1]), rest
    return await asyncio.wait_for(go(), timeout)


class Phone:
    def __init__(self, w: "Worker", c: dict):
        self.w, self.c = w, c
        self.ticket, self.id6, self.token = c["ticket"], c["id6"], c["token"]
        self.device = f"dev-{self.ticket}-{random.getrandbits(32):08x}"
        self.session: str | None = None
        self.conn: SioConn | None = None
        self.seq = 0
        self.local: dict[int, tuple] = {}    # what the candidate chose last: q -> (choice, seq)
        self.queue: dict[int, tuple] = {}    # not yet acknowledged: q -> (choice, seq)
        self.acked: dict[int, tuple] = {}    # acknowledged as durable: q -> (choice, seq)
        self.options = None
        self.etag = None
        self.deadline = None
        self.final_at = None
        self.final_reason = None
        self.receipt = None
        self.replaced = 0
        self.paper_at = None
        self.down_until = 0.0                # simulated WiFi outage (epoch)
        self.back_at = None
        self.sending = False
        self.waiting_for = None
        self.reconnecting = False

    # -- connection ------------------------------------------------------------------
    def on_event(self, ev, data) -> None:
        self.w.stats.pushes[ev] += 1
        if ev == "state" and isinstance(data, dict):
            if data.get("status") in ("submitted", "terminated") and self.final_at is None:
                self.final_at = time.time()
                self.final_reason = data.get("submit_reason")
        elif ev == "replaced":
            self.replaced += 1

    def on_close(self) -> None:
        self.w.stats.disconnects += 1

    async def connect(self) -> SioConn:
        conn = SioConn(self.w.ws_url, self.w.stats, on_event=self.on_event, on_close=self.on_close)
        await conn.open()
        self.conn = conn
        return conn

    async def call(self, event: str, payload=None, timeout: float = 30) -> dict:
        self.waiting_for = (event, time.time())       # what a phone that is not back waits on
        try:
            r = await self.conn.call(event, payload if payload is not None else {}, timeout)
        finally:
            self.waiting_for = None
        if not isinstance(r, dict):
            raise Refused(f"{event}: bad ack {r!r}")
        return r

    async def must(self, event: str, payload=None) -> dict:
        r = await self.call(event, payload)
        if not r.get("ok"):
            raise Refused(f"{event}:{r.get('error', {}).get('code')}")
        return r

    async def login(self) -> dict:
        r = await self.must("login", {"token": self.token, "ticket": self.ticket, "id6": self.id6,
                                      "device": self.device})
        self.session = r["session"]
        return r

    async def resume(self) -> dict:
        return await self.must("resume", {"session": self.session, "device": self.device})

    async def fetch_paper(self) -> None:
        hdr = {"Authorization": "Bearer " + self.session}
        if self.etag:
            hdr["If-None-Match"] = self.etag
        status, body = await http_get(self.w.host, self.w.port, "/api/paper", hdr)
        if status == 304 and self.etag:
            return
        if status != 200:
            raise Refused(f"paper:{status}")
        paper = json.loads(body)
        self.options = [[o["key"] for o in q["options"]] for q in paper["questions"]]
        if len(self.options) != paper["question_count"]:
            raise Refused("paper:short")
        self.etag = '"' + paper["paper_hash"] + '"'
        self.paper_at = time.time()

    async def arrive(self, until: str = "paper") -> None:
        """Scan the QR, log in, confirm, open, fetch the paper (stopping early if asked)."""
        await self.connect()
        await self.login()
        await self.must("confirm")
        if until == "confirmed":
            return
        r = await self.must("open")
        self.deadline = r["state"]["deadline"]
        await self.fetch_paper()

    # -- answering ---------------------------------------------------------------------
    def pick(self) -> tuple[int, object]:
        """Next question in order, or (about 1 in 5) a change of mind on an earlier one."""
        n = len(self.options)
        if self.local and (random.random() < 0.2 or len(self.local) >= n):
            q = random.choice(list(self.local))
            opts = [k for k in self.options[q - 1] if k != self.local[q][0]]
            return q, (None if random.random() < 0.1 else random.choice(opts))
        q = len(self.local) + 1
        return q, random.choice(self.options[q - 1])

    def record(self, q: int, choice) -> None:
        self.seq += 1
        self.local[q] = (choice, self.seq)
        self.queue[q] = (choice, self.seq)

    async def send(self, q: int) -> bool:
        """Send the queued answer for q and wait for its ack. False if the connection is gone."""
        choice, seq = self.queue[q]
        st = self.w.stats
        t = time.perf_counter()
        try:
            r = await self.call("answer", {"q": q, "choice": choice, "seq": seq})
        except (ConnectionError, ConnectionClosed, OSError):
            return False
        except asyncio.TimeoutError:
            st.err("ack_timeout")
            return False
        if st.measuring:
            st.lat.append((time.perf_counter() - t) * 1000)
            st.lat_at.append(time.time() - st.lat[-1] / 1000)
        if r.get("ok"):
            if r.get("seq", -1) >= seq:
                if st.measuring:
                    st.durable += 1
                self.acked[q] = (r["choice"], r["seq"])
                if self.queue.get(q, (None, -1))[1] <= r["seq"]:
                    self.queue.pop(q, None)
            else:
                st.err("stale_ack")
        else:
            code = r.get("error", {}).get("code", "?")
            if code in ("time_up", "submitted"):
                st.refusals[code] += 1
                self.queue.pop(q, None)
            else:
                st.err("answer:" + code)
                self.queue.pop(q, None)
        return True

    async def flush(self) -> bool:
        if self.sending:
            return True
        self.sending = True
        try:
            while self.queue:
                q = min(self.queue, key=lambda k: self.queue[k][1])
                if self.conn is None or self.conn.closed or not await self.send(q):
                    return False
            return True
        finally:
            self.sending = False

    async def answer(self) -> None:
        q, choice = self.pick()
        self.record(q, choice)
        if self.conn is not None and not self.conn.closed:
            await self.flush()

    async def reconnect(self, backoff: bool = True) -> None:
        """socket.io-client's reconnection: 1 s doubling to 5 s, +-50 %; then resume and resend."""
        if self.reconnecting:
            return
        self.reconnecting = True
        try:
            await self._reconnect(backoff)
        finally:
            self.reconnecting = False

    async def _reconnect(self, backoff: bool) -> None:
        delay = 1.0
        while True:
            if backoff:
                await asyncio.sleep(delay * random.uniform(0.5, 1.5))
                delay = min(delay * 2, 5.0)
            if time.time() < self.down_until:
                continue                       # the WiFi is still down: this attempt fails
            try:
                await self.connect()
                await self.resume()
                break
            # InvalidHandshake: an HTTP refusal (503 busy) or a connection closed during the
            # handshake; socket.io-client retries those too.
            except (OSError, ConnectionError, ConnectionClosed, InvalidHandshake, asyncio.TimeoutError, Refused) as e:
                self.w.stats.err("reconnect:" + type(e).__name__ + ":" + str(e)[:40])
                if self.conn is not None:
                    await self.conn.close()
                backoff = True
        await self.flush()

    async def ensure_connected(self) -> None:
        if self.conn is None or self.conn.closed:
            await self.reconnect()

    async def reload(self) -> None:
        """The page is reloaded: new socket, resume with the stored session, paper from cache."""
        await self.conn.close()
        await asyncio.sleep(random.uniform(0.5, 2))
        await self.connect()
        await self.resume()
        await self.fetch_paper()                 # If-None-Match: expects 304
        await self.flush()

    async def change_device(self) -> None:
        """Log in on another phone: the old one gets `replaced`; the new one syncs its answers."""
        old = self.conn
        self.device = f"dev-{self.ticket}-{random.getrandbits(32):08x}"
        await self.connect()
        await self.login()
        self.etag = None
        await self.fetch_paper()
        r = await self.must("sync")
        saved = {int(k): (v[0], v[1]) for k, v in r["answers"].items()}
        for q, (c, s) in self.acked.items():      # everything acknowledged must be there
            if self.w.spec.get("verify", True) and (q not in saved or saved[q][1] < s):
                self.w.stats.err("lost_on_device_change")
        self.acked = dict(saved)
        self.local = dict(saved)
        self.queue = {}
        self.seq = max([s for _, s in saved.values()] + [self.seq])
        await asyncio.sleep(0.5)                  # let the old phone receive `replaced`
        await old.close()

    async def submit(self) -> None:
        answers = {str(q): [c, s] for q, (c, s) in self.local.items()}
        r = await self.must("submit", {"answers": answers})
        self.receipt = r["receipt"]
        for q, (c, s) in self.local.items():
            self.acked[q] = (c, s)
        self.queue = {}


class Worker:
    def __init__(self, spec: dict):
        self.spec = spec
        self.host, self.port = spec["host"], spec["port"]
        self.ws_url = f"ws://{self.host}:{self.port}/socket.io/?EIO=4&transport=websocket"
        self.stats = Stats()
        self.phones = [Phone(self, c) for c in spec["candidates"]]
        self.console: SioConn | None = None
        self.t = {}
        self.lags: list[float] = []

    async def barrier(self, name: str) -> float:
        # The simulator's own GC must not pause its event loop in the window (that would show
        # up as ack latency of the server): freeze what exists, and collect no more until the end.
        gc.collect()
        gc.freeze()
        gc.disable()
        print(json.dumps({"barrier": name}), flush=True)
        line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        self.lag_task = asyncio.create_task(self.lag_probe())
        return float(line)

    async def lag_probe(self) -> None:
        """How late the simulator's own event loop wakes up (if high, the simulator is the bottleneck)."""
        while True:
            t = time.perf_counter()
            await asyncio.sleep(0.01)
            late = (time.perf_counter() - t - 0.01) * 1000
            self.lags.append(late)

    async def sleep_until(self, t: float) -> None:
        d = t - time.time()
        if d > 0:
            await asyncio.sleep(d)

    def cpu(self) -> float:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    async def open_console(self) -> None:
        con = self.spec.get("console")
        if not con:
            return
        self.console = SioConn(self.ws_url, self.stats, ns="/staff", headers={"Cookie": con["cookie"]},
                               on_event=lambda ev, d: self.stats.pushes.__setitem__("console:" + ev, self.stats.pushes["console:" + ev] + 1))
        await self.console.open()
        for sid in con["sittings"]:
            r = await self.console.call("watch", {"sitting": sid})
            if not r.get("ok"):
                self.stats.err("console_watch")

    async def setup(self, until: str = "paper", concurrency: int = 50) -> None:
        sem = asyncio.Semaphore(concurrency)

        async def one(p: Phone):
            async with sem:
                try:
                    await p.arrive(until)
                except Exception as e:  # noqa: BLE001
                    self.stats.err("setup:" + type(e).__name__ + ":" + str(e)[:40])
        await asyncio.gather(*(one(p) for p in self.phones))

    async def close_all(self) -> None:
        for p in self.phones:
            if p.conn is not None and not p.conn.closed:
                await p.conn.close()
        for z in getattr(self, "zombies", []):
            try:
                z.ws.transport.abort()
            except Exception:
                pass
        if self.console:
            await self.console.close()

    def result(self, **extra) -> dict:
        s = self.stats
        lags = sorted(self.lags) or [0.0]
        return {"loop_lag_p99": lags[int(0.99 * (len(lags) - 1))], "loop_lag_max": lags[-1],
                "errors": dict(s.errors), "refusals": dict(s.refusals), "disconnects": s.disconnects,
                "lat": s.lat, "lat_at": s.lat_at, "durable": s.durable, "pushes": dict(s.pushes), "t": self.t,
                "behind": s.behind, "behind_max": s.behind_max, **extra}

    # -- scenarios ---------------------------------------------------------------------
    async def storm(self) -> dict:
        sp = self.spec
        t0 = await self.barrier("ready")
        self.t["t0"] = t0
        c0 = self.cpu()
        done: list[tuple] = []

        async def one(p: Phone):
            start = t0 + random.uniform(0, sp["spread"])
            await self.sleep_until(start)
            b = time.time()
            try:
                await p.arrive("paper")
                done.append((b, p.paper_at))
            except Exception as e:  # noqa: BLE001
                self.stats.err("storm:" + type(e).__name__ + ":" + str(e)[:40])
        await asyncio.gather(*(one(p) for p in self.phones))
        self.t["end"] = time.time()
        cpu = self.cpu() - c0
        await asyncio.sleep(sp.get("hold", 3))          # stay connected: late disconnects count too
        return self.result(done=done, cpu=cpu)

    async def answering(self, t0: float, end: float, interval, extra=None) -> None:
        """Each phone answers every `interval()` seconds from a random phase until `end`, on
        the spec's schedule (bench/schedule.py: open loop unless told otherwise). A phone that
        falls behind (its previous ack took longer than the interval) answers at once;
        `behind` counts those, so that a slow server cannot hide behind fewer sends."""
        async def one(p: Phone):
            if p.options is None:
                return
            due = t0 + random.uniform(0, interval())
            await self.sleep_until(due)
            while time.time() < end:
                if p.conn is not None and p.conn.closed and time.time() >= p.down_until and not p.reconnecting:
                    asyncio.create_task(p.reconnect(backoff=False))
                if extra is not None:
                    await extra(p)
                late = time.time() - due
                if self.stats.measuring and late > BEHIND_S:
                    self.stats.behind += 1
                    self.stats.behind_max = max(self.stats.behind_max, late)
                await p.answer()
                due = next_due(due, time.time(), interval(), self.spec.get("schedule", "open"))
                await self.sleep_until(due)
        await asyncio.gather(*(one(p) for p in self.phones))

    async def steady(self) -> dict:
        sp = self.spec
        await self.open_console()
        await self.setup("paper")
        t0 = await self.barrier("ready")
        end = t0 + sp["window"]
        self.t.update(t0=t0, end=end)
        lo, hi = sp["interval"]
        self.stats.measuring = True
        c0 = self.cpu()
        await self.answering(t0, end, lambda: random.uniform(lo, hi))
        cpu = self.cpu() - c0
        self.stats.measuring = False
        await asyncio.sleep(1)
        return self.result(cpu=cpu, phones=len(self.phones))

    async def proctor(self) -> dict:
        """steady, and each phone uploads one photo every `capture_every` seconds from a
        random phase (POST /api/capture, as static_client/candidate/camera.js does)."""
        import base64

        sp = self.spec
        photos = [base64.b64decode(x) for x in sp["photos"]]
        await self.setup("paper")
        t0 = await self.barrier("ready")
        end = t0 + sp["window"]
        self.t.update(t0=t0, end=end)
        lo, hi = sp["interval"]
        caps = {"sent": 0, "ok": 0, "bytes": 0, "lat": [], "codes": {}}

        async def shooter(p: Phone):
            t = t0 + random.uniform(0, sp["capture_every"])
            n = 0
            while t < end:
                await self.sleep_until(t)
                body = photos[(hash(p.ticket) + n) % len(photos)]
                n += 1
                hdr = {"Authorization": "Bearer " + p.session, "Content-Type": "image/jpeg",
                       "X-Capture-Id": f"b{p.ticket}-{n}-{random.getrandbits(32):08x}", "X-Capture-Slot": "1",
                       "X-Capture-Source": "camera"}
                b = time.perf_counter()
                caps["sent"] += 1
                try:
                    status, _ = await http_post(self.host, self.port, "/api/capture", hdr, body)
                except Exception as e:  # noqa: BLE001
                    status = type(e).__name__
                caps["codes"][str(status)] = caps["codes"].get(str(status), 0) + 1
                if status == 200:
                    caps["ok"] += 1
                    caps["bytes"] += len(body)
                    caps["lat"].append((time.perf_counter() - b) * 1000)
                t += sp["capture_every"]
        self.stats.measuring = True
        c0 = self.cpu()
        await asyncio.gather(self.answering(t0, end, lambda: random.uniform(lo, hi)),
                             *(shooter(p) for p in self.phones if p.session))
        cpu = self.cpu() - c0
        self.stats.measuring = False
        await asyncio.sleep(1)
        return self.result(cpu=cpu, phones=len(self.phones), captures=caps)

    async def closed(self) -> dict:
        sp = self.spec
        await self.open_console()
        await self.setup("paper")
        t0 = await self.barrier("ready")
        end = t0 + sp["window"]
        self.t.update(t0=t0, end=end)
        c0 = self.cpu()
        self.stats.measuring = True

        async def one(p: Phone):
            if p.options is None:
                return
            while time.time() < end:
                await p.answer()
                if p.conn.closed:
                    return
        await asyncio.gather(*(one(p) for p in self.phones))
        self.t["end"] = time.time()
        self.stats.measuring = False
        cpu = self.cpu() - c0
        return self.result(cpu=cpu)

    async def exam(self) -> dict:
        """Realistic: staggered arrival, answers every 10-40 s with changes of mind, reloads,
        device changes, focus events, then everybody submits."""
        sp = self.spec
        await self.open_console()
        t0 = await self.barrier("ready")
        end = t0 + sp["window"]
        self.t.update(t0=t0, end=end)
        lo, hi = sp["interval"]
        counts = Counter()
        c0 = self.cpu()
        self.stats.measuring = True

        async def extra(p: Phone):
            x = random.random()
            try:
                if x < sp["p_reload"]:
                    counts["reload"] += 1
                    await p.reload()
                elif x < sp["p_reload"] + sp["p_device"]:
                    counts["device_change"] += 1
                    await p.change_device()
                elif x < sp["p_reload"] + sp["p_device"] + 0.03:
                    counts["focus"] += 1
                    await p.must("focus", {"hidden": True, "ms": 0})
                    await asyncio.sleep(random.uniform(1, 4))
                    await p.must("focus", {"hidden": False, "ms": random.randint(1000, 4000)})
            except Exception as e:  # noqa: BLE001
                self.stats.err("extra:" + type(e).__name__ + ":" + str(e)[:40])

        async def one(p: Phone):
            await self.sleep_until(t0 + random.uniform(0, sp["arrival"]))
            try:
                await p.arrive("paper")
            except Exception as e:  # noqa: BLE001
                self.stats.err("arrive:" + type(e).__name__ + ":" + str(e)[:40])
                return
            await asyncio.sleep(random.uniform(lo, hi))
            while time.time() < end:
                await extra(p)
                await p.answer()
                await asyncio.sleep(random.uniform(lo, hi))
            await asyncio.sleep(random.uniform(0, sp["submit_spread"]))
            try:
                await p.ensure_connected()
                await p.submit()
            except Exception as e:  # noqa: BLE001
                self.stats.err("submit:" + type(e).__name__ + ":" + str(e)[:40])
        await asyncio.gather(*(one(p) for p in self.phones))
        self.t["end"] = time.time()
        self.stats.measuring = False
        cpu = self.cpu() - c0
        await asyncio.sleep(1)
        return self.result(cpu=cpu, counts=dict(counts), acked=self.acked_map(),
                           receipts=sum(1 for p in self.phones if p.receipt))

    def acked_map(self) -> dict:
        return {p.ticket: {str(q): [c, s] for q, (c, s) in p.acked.items()} for p in self.phones}

    async def flap(self) -> dict:
        sp = self.spec
        await self.setup("paper")
        t0 = await self.barrier("ready")
        end = t0 + sp.get("window", sp["drop_at"] + sp["outage"][1] + 15)
        drop = t0 + sp["drop_at"]
        self.t.update(t0=t0, end=end, drop=drop)
        lo, hi = sp["interval"]
        self.zombies: list[SioConn] = []
        restore: dict[str, float] = {}
        watchers: dict[str, asyncio.Task] = {}
        c0 = self.cpu()

        async def dropper():
            await self.sleep_until(drop)
            for i, p in enumerate(self.phones):
                p.down_until = drop + random.uniform(*sp["outage"])
                restore[p.ticket] = p.down_until
                if p.conn is None or p.conn.closed:
                    continue
                if i % 2:
                    p.conn.abort()
                else:
                    p.conn.zombify()
                    self.zombies.append(p.conn)
            for p in self.phones:   # keep a reference: the loop holds tasks only weakly
                watchers[p.ticket] = asyncio.create_task(watch_back(p))

        async def watch_back(p: Phone):
            try:
                await watching(p)
            except Exception as e:  # noqa: BLE001 - a dead watcher must show, not leave the phone "not back"
                self.stats.err("watch_back:" + type(e).__name__ + ":" + str(e)[:40])

        async def watching(p: Phone):
            await p.reconnect()
            while p.reconnecting or p.conn is None or p.conn.closed or p.queue:
                await asyncio.sleep(0.05)
                if not p.reconnecting and (p.conn is None or p.conn.closed):
                    await p.reconnect()
            p.back_at = time.time()

        self.stats.measuring = True
        await asyncio.gather(dropper(), self.answering(t0, end, lambda: random.uniform(lo, hi)))
        self.stats.measuring = False
        # settle: every phone back and every queued answer acknowledged
        settle = time.time() + 30
        while time.time() < settle and any(p.back_at is None or p.queue for p in self.phones):
            await asyncio.sleep(0.2)
        for p in self.phones:
            if p.queue and p.conn and not p.conn.closed:
                await p.flush()
        cpu = self.cpu() - c0
        back = [(p.ticket, restore.get(p.ticket), p.back_at) for p in self.phones]
        now = time.time()
        stuck = [{"ticket": p.ticket, "reconnecting": p.reconnecting, "conn": None if p.conn is None else
                  ("closed" if p.conn.closed else "open"), "queue": len(p.queue), "sending": p.sending,
                  "waiting_for": None if p.waiting_for is None else
                  [p.waiting_for[0], round(now - p.waiting_for[1], 1)], "restored": round(restore.get(p.ticket, now) - drop, 1),
                  "watcher": "none" if p.ticket not in watchers else ("done" if watchers[p.ticket].done() else
                             " | ".join(f"{f.f_code.co_name}:{f.f_lineno}" for f in watchers[p.ticket].get_stack()))}
                 for p in self.phones if p.back_at is None]
        return self.result(cpu=cpu, back=back, stuck=stuck, acked=self.acked_map(),
                           unacked=sum(len(p.queue) for p in self.phones))

    async def timeup(self) -> dict:
        sp = self.spec
        await self.setup("confirmed")
        t0 = await self.barrier("ready")
        self.t["t0"] = t0
        lo, hi = sp["interval"]
        c0 = self.cpu()

        async def one(p: Phone):
            if p.conn is None or p.conn.closed:
                return
            await self.sleep_until(t0)
            try:
                r = await p.must("open")
                p.deadline = r["state"]["deadline"]
                await p.fetch_paper()
            except Exception as e:  # noqa: BLE001
                self.stats.err("open:" + type(e).__name__ + ":" + str(e)[:40])
                return
            while p.final_at is None:
                await asyncio.sleep(random.uniform(lo, hi))
                if time.time() > p.deadline / 1000 - 0.2:
                    break                        # the candidate stops at the countdown's end
                await p.answer()
            limit = p.deadline / 1000 + sp.get("wait", 20)
            while p.final_at is None and time.time() < limit:
                await asyncio.sleep(0.02)
            if p.final_at is None:
                self.stats.err("not_finalized")
            elif p.final_reason != "time_up":
                self.stats.err("reason:" + str(p.final_reason))
        await asyncio.gather(*(one(p) for p in self.phones))
        cpu = self.cpu() - c0
        fin = [(p.deadline, p.final_at) for p in self.phones if p.deadline]
        return self.result(cpu=cpu, fin=fin)


async def amain(spec: dict) -> dict:
    w = Worker(spec)
    try:
        res = await getattr(w, spec["scenario"])()
    finally:
        await w.close_all()
    return res


def main() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    spec = json.loads(sys.stdin.readline())
    random.seed(spec.get("seed"))
    try:
        import uvloop  # type: ignore
        uvloop.install()
    except ImportError:
        pass
    res = asyncio.run(amain(spec))
    print(json.dumps({"result": res}), flush=True)


if __name__ == "__main__":
    main()
