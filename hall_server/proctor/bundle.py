"""The camera's part of the signed result bundle: per candidate, the flags, the lowest
similarity, every capture's times and verdicts, the identity checks, and a few small
thumbnails (the lowest similarity and every flagged photo first), within a byte budget.
Read inside the bundle's read transaction (sync/result_bundle.py)."""
from __future__ import annotations

import base64
from pathlib import Path

from hall_server.config import DEFAULTS

from . import photos


def _flags(c: dict, threshold: float) -> list[str]:
    if c["status"] != "ok":
        return ["拍照失败"]
    out = []
    if c["faces"] == 0:
        out.append("无人脸")
    elif c["faces"] is not None and c["faces"] >= 2:
        out.append("多人")
    if c["similarity"] is not None and c["similarity"] < threshold:
        out.append("相似度低")
    return out


def _priority(c: dict) -> tuple:
    """Which photos travel as thumbnails first: flagged, then the least similar."""
    return (0 if c["flags"] else 1, c["similarity"] if c["similarity"] is not None else 2.0, c["received_at"])


def proctoring(conn, tickets: list[str], cfg: dict | None = None) -> dict:
    """{"threshold", "candidates": [...], "thumb_bytes", "thumbs_omitted"} for the bundle."""
    pc = cfg or DEFAULTS["proctor"]
    if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'captures'").fetchone() is None:
        return {"threshold": pc["similarity_threshold"], "candidates": [], "thumb_bytes": 0, "thumbs_omitted": 0}
    db_file = conn.execute("PRAGMA database_list").fetchone()[2]
    root = Path(db_file).parent / pc["photo_dir"]
    want = set(tickets)
    caps: dict[str, list[dict]] = {}
    for r in conn.execute("SELECT * FROM captures ORDER BY ticket, received_at, capture_id"):
        if r["ticket"] in want:
            c = dict(r)
            c["flags"] = _flags(c, pc["similarity_threshold"])
            caps.setdefault(r["ticket"], []).append(c)
    checks: dict[str, list[dict]] = {}
    for r in conn.execute("SELECT ticket, stage, method, document, approver, ts, staff FROM id_checks ORDER BY id"):
        if r["ticket"] in want:
            checks.setdefault(r["ticket"], []).append(dict(r))
    budget, used, omitted = pc["bundle_max_bytes"], 0, 0
    out = []
    for ticket in sorted(set(caps) | set(checks)):
        lst = caps.get(ticket, [])
        thumbs = {}
        for c in sorted((c for c in lst if c["status"] == "ok" and c["purged_at"] is None), key=_priority):
            if len(thumbs) >= pc["bundle_thumbs_per_candidate"]:
                break
            data = photos.read(root, c["sha256"])
            if data is None:
                continue
            t = photos.thumbnail(data, pc["bundle_thumb_px"])
            if used + len(t) > budget:
                omitted += 1
                continue
            used += len(t)
            thumbs[c["capture_id"]] = base64.b64encode(t).decode()
        sims = [c["similarity"] for c in lst if c["similarity"] is not None]
        flags: list[str] = []
        for c in lst:
            flags += [f for f in c["flags"] if f not in flags]
        out.append({
            "ticket": ticket, "min_similarity": min(sims) if sims else None, "flags": flags,
            "captures": [{"id": c["capture_id"], "slot": c["slot"], "status": c["status"], "source": c["source"],
                          "taken_at": c["taken_at"], "received_at": c["received_at"], "faces": c["faces"],
                          "similarity": c["similarity"], "reference": c["reference"], "flags": c["flags"],
                          "sha256": c["sha256"], "thumb": thumbs.get(c["capture_id"])} for c in lst],
            "id_checks": checks.get(ticket, []),
        })
    return {"threshold": pc["similarity_threshold"], "candidates": out, "thumb_bytes": used, "thumbs_omitted": omitted}
