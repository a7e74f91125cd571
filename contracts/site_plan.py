"""A site plan (docs/site-plan.md) as a JSON file: what provisioning writes for development
and the demo (`python -m provisioning demo-plan`) and what `hall import plan.json` and
`hall demo` read. The plan is JSON except its question images, bytes: in the file they are
base64 under ``media`` (a signed bundle carries them its own way: contracts/site_bundle.py).
"""
from __future__ import annotations

import base64
import json
from pathlib import Path


def dump_plan(plan: dict, path: str | Path) -> Path:
    """Write ``plan`` to ``path`` as UTF-8 JSON (media base64)."""
    doc = {**plan, "media": {k: base64.b64encode(v).decode("ascii") for k, v in plan.get("media", {}).items()}}
    path = Path(path)
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def load_plan(path: str | Path) -> dict:
    """The plan in ``path``, its media as bytes again."""
    plan = json.loads(Path(path).read_text(encoding="utf-8"))
    plan["media"] = {k: base64.b64decode(v) for k, v in (plan.get("media") or {}).items()}
    return plan
