"""Same-day anomaly reports from a site to the centre (seeds 000_… 附件2 二(七): the chief
reports anomalies to the office at once; 附件4 第七条3: evidence reaches the district the
same day). A contract: the hall signs, the centre checks.

When the laptop has a network, each violation and incident is pushed as it is recorded:

    POST /api/reports  {"format": "hall-site-report/1", "site_no", "kind": "violation" | "incident",
                        "record": {the row as the hall stores it}, "sig"}

``sig`` is the site's Ed25519 signature (the key the centre issued) over
canonical_json({"format", "site_no", "kind", "record"}). A repeat is harmless (the same
answer); the result bundle stays the record of truth and later reconciles the reports.
"""
from __future__ import annotations

from typing import Any, Mapping

from .audit_chain import canonical_json
from .exam import VIOLATION_LEVELS
from .keys import Refused, sign_b64, signed_by

FORMAT = "hall-site-report/1"
KINDS = {"violation": ("id", "ticket", "sitting_id", "level", "facts", "ts", "staff"),
         "incident": ("id", "sitting_id", "kind", "text", "ts", "staff")}
LEVELS = tuple(VIOLATION_LEVELS)
MAX_TEXT = 4000


class ReportRefused(Refused):
    """A same-day report the centre will not take."""


def _message(site_no: str, kind: str, record: dict) -> bytes:
    return canonical_json({"format": FORMAT, "site_no": site_no, "kind": kind, "record": record})


def sign_report(private_key_b64: str, site_no: str, kind: str, record: dict) -> dict:
    return {"format": FORMAT, "site_no": str(site_no), "kind": kind, "record": record,
            "sig": sign_b64(private_key_b64, _message(str(site_no), kind, record))}


def _shape(kind: Any, record: Any) -> str | None:
    if kind not in KINDS or not isinstance(record, dict) or set(record) != set(KINDS[kind]):
        return "kind/record"
    if not isinstance(record["id"], int) or isinstance(record["id"], bool) or record["id"] <= 0:
        return "id"
    if not isinstance(record["ts"], (int, float)) or isinstance(record["ts"], bool):
        return "ts"
    for k in KINDS[kind]:
        if k not in ("id", "ts", "sitting_id") and not (isinstance(record[k], str) and len(record[k]) <= MAX_TEXT):
            return k
    if record["sitting_id"] is not None and not (isinstance(record["sitting_id"], str) and len(record["sitting_id"]) < 100):
        return "sitting_id"
    if kind == "violation" and record["level"] not in LEVELS:
        return "level"
    return None


def verify_report(body: Any, site_public_keys: Mapping[str, str]) -> tuple[str, str, dict]:
    """-> (site_no, kind, record) or raise ReportRefused."""
    if not isinstance(body, dict) or body.get("format") != FORMAT or set(body) != {"format", "site_no", "kind",
                                                                                   "record", "sig"}:
        raise ReportRefused(400, "bad_format", "不是本系统的考点速报")
    problem = _shape(body["kind"], body["record"])
    if problem:
        raise ReportRefused(400, "bad_request", f"速报内容不符: {problem}")
    site_no, sig = body["site_no"], body["sig"]
    issued = site_public_keys.get(site_no) if isinstance(site_no, str) else None
    if not issued:
        raise ReportRefused(403, "unknown_site", f"考点 {site_no} 不在本中心签发的考点密钥名单中")
    if not signed_by(issued, sig, _message(site_no, body["kind"], body["record"])):
        raise ReportRefused(403, "bad_signature", f"速报签名与考点 {site_no} 的密钥不符")
    return site_no, body["kind"], body["record"]
