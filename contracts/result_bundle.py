"""The signed result bundle's format: what the hall writes and the centre accepts.

The hall builds the payload from its database (hall_server/result_export.py); this module
signs it, names its file and verifies it, for both sides.

Bytes on disk / on the wire (canonical JSON, UTF-8, no whitespace, sorted keys):

    {"format": "hall-result-bundle/1",
     "payload": {...},                                   # see build_payload()
     "sig": {"alg": "Ed25519", "site_no": "17", "public_key": "<b64>",
             "value": "<b64 signature over canonical_json(payload)>"}}

* Deterministic: no wall-clock time, every list sorted by its key, Ed25519 signatures
  are deterministic. Building twice from the same DB gives the same bytes.
* Content-addressed: ``bundle_id(data) = sha256 hex of the bytes`` is its identity.
* ``payload.generation`` = max(audit_log.id); ``payload.watermarks`` = max id of each
  append-only table. The centre refuses a bundle older than one it already accepted.
* Only one byte form is valid: the centre re-serializes and refuses a non-canonical file.
"""
from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any, Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .audit_chain import GENESIS, canonical_json, verify_chain

FORMAT = "hall-result-bundle/1"
# The tables whose max id the bundle carries (payload.watermarks): the centre orders a
# site's bundles by all of them. One list for the builder, the shape check and the centre.
WATERMARK_TABLES = ("audit_log", "answer_log", "device_events", "violations", "incidents", "time_adjustments")
MAX_BUNDLE_BYTES = 64 * 1024 * 1024


class BundleRejected(Exception):
    """A bundle the centre must refuse. ``code`` is stable ASCII; ``message_zh`` is shown
    to the county office as is."""

    def __init__(self, code: str, message_zh: str, **extra: Any):
        super().__init__(f"{code}: {message_zh}")
        self.code = code
        self.message_zh = message_zh
        self.extra = extra

    def as_dict(self) -> dict:
        return {"code": self.code, "message": self.message_zh, **self.extra}


def bundle_id(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii")


def _unb64(s: str) -> bytes:
    """Strict base64: only the one canonical spelling (unused padding bits must be zero,
    otherwise two different files would carry the same signature)."""
    raw = base64.b64decode(s.encode("ascii"), validate=True)
    if base64.b64encode(raw).decode("ascii") != s:
        raise ValueError("non-canonical base64")
    return raw


def sign_payload(payload: dict, private_key_b64: str, site_no: str) -> bytes:
    sk = Ed25519PrivateKey.from_private_bytes(_unb64(private_key_b64))
    pub = sk.public_key().public_bytes_raw()
    body = canonical_json(payload)
    env = {"format": FORMAT, "payload": payload,
           "sig": {"alg": "Ed25519", "site_no": str(site_no), "public_key": _b64(pub),
                   "value": _b64(sk.sign(body))}}
    return canonical_json(env)


# Canonical JSON sorts the envelope's keys, so every result bundle starts with these bytes:
# how a bundle is recognised whatever its file name (an early version wrote one named "outbox").
BUNDLE_SUFFIX = ".hallresult"
BUNDLE_MAGIC = b'{"format":"hall-result-bundle/1","payload":'


def looks_like_bundle(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(len(BUNDLE_MAGIC)) == BUNDLE_MAGIC
    except OSError:
        return False


def bundle_file_name(data: bytes, sha: str | None = None) -> str:
    """result-<site>-<scope>-g<generation>-<sha12>.hallresult"""
    sha = sha or hashlib.sha256(data).hexdigest()
    p = json.loads(data)["payload"]
    scope = "all" if p["scope"] == "*" else p["scope"]
    return f"result-{p['site']['site_no']}-{scope}-g{p['generation']}-{sha[:12]}{BUNDLE_SUFFIX}"


def _load_pub(b64: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(_unb64(b64))


def verify_result_bundle(data: bytes, site_public_keys: Mapping[str, str]) -> dict:
    """Check a bundle as the centre must; return its payload plus ``bundle_id``.

    ``site_public_keys``: {site_no: base64 raw Ed25519 public key}, as issued
    (provisioning's site_keys.json). Raises BundleRejected with a stable code:
    too_large, malformed, not_canonical, bad_format, unknown_site, wrong_key,
    bad_signature, bad_audit_chain, inconsistent.
    """
    if not isinstance(data, (bytes, bytearray)):
        raise BundleRejected("malformed", "成绩包不是文件数据")
    data = bytes(data)
    if len(data) > MAX_BUNDLE_BYTES:
        raise BundleRejected("too_large", "成绩包过大")
    try:
        env = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise BundleRejected("malformed", "成绩包文件已损坏或不完整（无法解析），请重新导出") from None
    if not isinstance(env, dict) or env.get("format") != FORMAT or not isinstance(env.get("payload"), dict) \
            or not isinstance(env.get("sig"), dict) or set(env) != {"format", "payload", "sig"} \
            or set(env["sig"]) != {"alg", "site_no", "public_key", "value"} or env["sig"]["alg"] != "Ed25519":
        raise BundleRejected("bad_format", "不是本系统的成绩包或版本不符")
    if canonical_json(env) != data:
        raise BundleRejected("not_canonical", "成绩包文件被改动过（格式不规范），请使用考点导出的原文件")
    payload, sig = env["payload"], env["sig"]
    site_no = sig.get("site_no")
    site = payload.get("site")
    if not isinstance(site_no, str) or not isinstance(site, dict) or site.get("site_no") != site_no \
            or payload.get("format") != FORMAT:
        raise BundleRejected("inconsistent", "成绩包的考点编号前后不一致")
    issued = site_public_keys.get(site_no)
    if not issued:
        raise BundleRejected("unknown_site", f"考点 {site_no} 不在本中心签发的考点密钥名单中", site_no=site_no)
    body = canonical_json(payload)
    try:
        value = _unb64(str(sig.get("value", "")))
    except ValueError:
        raise BundleRejected("bad_signature", "成绩包签名已损坏") from None
    try:
        _load_pub(issued).verify(value, body)
    except (InvalidSignature, ValueError):
        # Whose key did sign it? Tell the office plainly if it is another site's.
        for other_no, other_pub in site_public_keys.items():
            if other_no == site_no:
                continue
            try:
                _load_pub(other_pub).verify(value, body)
            except (InvalidSignature, ValueError):
                continue
            raise BundleRejected("wrong_key", f"成绩包声称来自考点 {site_no}，但是用考点 {other_no} 的密钥签名的",
                                 site_no=site_no, signed_by=other_no) from None
        raise BundleRejected("bad_signature", f"成绩包签名与考点 {site_no} 的密钥不符（文件被改动或密钥不对）",
                             site_no=site_no) from None
    if sig.get("public_key") != issued:
        raise BundleRejected("wrong_key", f"成绩包所附公钥与中心为考点 {site_no} 签发的不符", site_no=site_no)
    audit = payload.get("audit_log")
    if not isinstance(audit, list):
        raise BundleRejected("inconsistent", "成绩包缺少审计日志")
    try:
        ok, bad = verify_chain(audit)
    except (TypeError, ValueError, KeyError):
        ok, bad = False, None
    if not ok:
        raise BundleRejected("bad_audit_chain", f"审计日志链在第 {bad} 条处断裂", first_bad_id=bad)
    last_id = int(audit[-1]["id"]) if audit else 0
    head = audit[-1]["hash"] if audit else GENESIS
    if payload.get("audit_head") != {"id": last_id, "hash": head} or payload.get("generation") != last_id:
        raise BundleRejected("inconsistent", "成绩包的审计链头与日志不符")
    problem = _shape_problem(payload)
    if problem:
        raise BundleRejected("inconsistent", f"成绩包内容结构不符: {problem}", site_no=site_no)
    return {**payload, "bundle_id": bundle_id(data), "size": len(data)}


def _shape_problem(p: dict) -> str | None:
    """The fields the centre relies on, with their types (a hall bug must not become a 500)."""
    def is_int(x):
        return isinstance(x, int) and not isinstance(x, bool)
    if not isinstance(p.get("scope"), str):
        return "scope"
    w = p.get("watermarks")
    if not isinstance(w, dict) or not all(is_int(w.get(k)) for k in WATERMARK_TABLES):
        return "watermarks"
    for key in ("rooms", "sittings", "candidates", "attempts", "violations", "incidents", "device_events",
                "absentees", "room_records", "answer_log"):
        if not isinstance(p.get(key), list):
            return key
    if not isinstance(p.get("counts"), dict):
        return "counts"
    tickets = set()
    for c in p["candidates"]:
        if not isinstance(c, dict) or not isinstance(c.get("ticket"), str) or c["ticket"] in tickets:
            return "candidates"
        if not all(isinstance(c.get(k), str) for k in ("name", "category", "level", "unit")):
            return "candidates"
        tickets.add(c["ticket"])
    for a in p["attempts"]:
        if not isinstance(a, dict) or a.get("ticket") not in tickets or not isinstance(a.get("status"), str):
            return "attempts"
        ans = a.get("answers")
        if not isinstance(ans, list) or not all(
                isinstance(x, list) and len(x) == 4 and is_int(x[0]) and (x[1] is None or isinstance(x[1], str))
                for x in ans):
            return "attempts.answers"
    for v in p["violations"]:
        if not isinstance(v, dict) or not isinstance(v.get("ticket"), str):
            return "violations"
    if not all(isinstance(x, dict) and x.get("ticket") in tickets for x in p["absentees"]):
        return "absentees"
    pr = p.get("proctoring")   # optional: bundles of a hall before issue 16 have none
    if pr is not None:
        if not isinstance(pr, dict) or not isinstance(pr.get("candidates"), list):
            return "proctoring"
        for c in pr["candidates"]:
            if (not isinstance(c, dict) or c.get("ticket") not in tickets or not isinstance(c.get("captures"), list)
                    or not isinstance(c.get("flags"), list)
                    or not (c.get("min_similarity") is None or isinstance(c["min_similarity"], (int, float)))):
                return "proctoring"
    return None
