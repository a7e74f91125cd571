"""The server's side of the face worker: one green thread that hands the worker one photo
at a time and writes each result through the writer (the mirror changes in `apply`).
The event loop only writes a line and waits on a pipe; all the work is in the worker.
"""
from __future__ import annotations

import json
import logging
import sys
import time

from . import ops as pops
from . import photos

log = logging.getLogger(__name__)


class FaceClient:
    def __init__(self, svc, upsample: int = 1):
        self.svc = svc
        self.upsample = upsample
        self.proc = None
        self.stats = {"analysed": 0, "errors": 0, "worker_ms": 0.0, "restarts": 0}
        self._wake = None
        self._stopped = False

    def start(self) -> "FaceClient":
        import eventlet
        from eventlet.event import Event

        self._wake = Event()

        def wake():
            if not self._wake.ready():
                self._wake.send(True)
        self.svc.on_face_work = wake
        self._thread = eventlet.spawn(self._run)
        return self

    def stop(self) -> None:
        self._stopped = True
        if self.proc and self.proc.poll() is None:
            self.proc.kill()

    def _spawn(self):
        from eventlet.green import subprocess

        self.proc = subprocess.Popen([sys.executable, "-m", "hall_server.proctor.face_worker",
                                      "--upsample", str(self.upsample)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
        ready = self.proc.stdout.readline()
        if not ready:
            raise RuntimeError("face worker did not start")

    def _run(self) -> None:
        import eventlet
        from eventlet.event import Event

        while not self._stopped:
            try:
                if self.proc is None or self.proc.poll() is not None:
                    self._spawn()
                while self.svc.face_queue:
                    self._one(self.svc.face_queue.popleft())
                self._wake.wait()
                self._wake = Event()
            except Exception:
                log.exception("face worker failed; restarting in 5 s")
                self.stats["restarts"] += 1
                if self.proc and self.proc.poll() is None:
                    self.proc.kill()
                self.proc = None
                eventlet.sleep(5)

    def _one(self, capture_id: str) -> None:
        svc = self.svc
        c = svc.captures.get(capture_id)
        if c is None or c["status"] != "ok" or c["analyzed_at"] is not None or c["purged_at"] is not None:
            return
        kind, ref_sha = svc.face_reference(c["ticket"], capture_id)
        req = {"id": capture_id, "path": str(photos.path_for(svc.photo_root, c["sha256"])),
               "ref_key": ref_sha, "ref_path": str(photos.path_for(svc.photo_root, ref_sha)) if ref_sha else None}
        self.proc.stdin.write((json.dumps(req) + "\n").encode())
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            svc.face_queue.appendleft(capture_id)
            raise RuntimeError("face worker exited")
        resp = json.loads(line)
        if resp.get("error"):
            self.stats["errors"] += 1
            log.warning("face check of %s failed: %s", capture_id, resp["error"])
            faces, sim = None, None
        else:
            faces, sim = resp["faces"], resp["similarity"]
            self.stats["worker_ms"] += resp.get("ms", 0)
        self.stats["analysed"] += 1
        svc._write(pops.record_face, capture_id, faces, sim, kind if sim is not None else None, svc.clock(),
                   apply=svc.apply)
