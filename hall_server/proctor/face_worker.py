"""The face worker: a separate process at the lowest CPU priority, so that face checks
never take time from the exam's event loop (which only ever waits on its pipe).

Protocol, one JSON object per line: the server writes {"id", "path", "ref_key", "ref_path"}
on stdin; the worker answers {"id", "faces", "similarity", "ms"} or {"id", "error"} on stdout.
Run as `python -m hall_server.proctor.face_worker --upsample 1`.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time


def lower_priority() -> None:
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))  # runs only when a core is idle
    except (AttributeError, OSError):
        pass
    try:
        os.nice(19)
    except OSError:
        pass


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--upsample", type=int, default=1)
    args = ap.parse_args(argv)
    lower_priority()
    from .face import FaceModel

    model = FaceModel(args.upsample)
    out = sys.stdout
    out.write(json.dumps({"ready": True}) + "\n")
    out.flush()
    for line in sys.stdin:
        try:
            req = json.loads(line)
            t0 = time.perf_counter()
            with open(req["path"], "rb") as f:
                data = f.read()
            ref = None
            if req.get("ref_path"):
                with open(req["ref_path"], "rb") as f:
                    ref = model.reference(req["ref_key"], f.read())
            faces, sim = model.analyze(data, ref)
            resp = {"id": req["id"], "faces": faces, "similarity": sim,
                    "ms": round((time.perf_counter() - t0) * 1000, 1)}
        except Exception as e:  # one bad photo must not stop the others
            resp = {"id": (req or {}).get("id") if isinstance(locals().get("req"), dict) else None,
                    "error": f"{type(e).__name__}: {e}"}
        out.write(json.dumps(resp) + "\n")
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
