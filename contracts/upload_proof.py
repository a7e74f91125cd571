"""Proof of a site for opening a resumable upload at the centre (a contract: the hall and
the county office sign with it, the centre checks it).

An upload reservation takes spool space at the centre, so only a holder of a site's
Ed25519 key (issued by the centre with the site's bundle) may open one, and only for one
exact file: the site signs

    canonical_json({"format": "hall-upload-open/1", "site_no", "sha256", "size"})

``sha256``/``size`` are those of the result-bundle file. Anyone who copies the proof can
only open (and resume) the upload of that same file. The hall writes the proof beside
the bundle (``<bundle>.hallresult.sig``, JSON) so a county office that carries the files
on a USB stick can upload them resumably without the site's key.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from .audit_chain import canonical_json
from .keys import Refused, sign_b64, signed_by

FORMAT = "hall-upload-open/1"
PROOF_SUFFIX = ".sig"                 # <file>.hallresult.sig


class OpenRefused(Refused):
    """An upload the centre will not open."""


def _message(site_no: str, sha256: str, size: int) -> bytes:
    return canonical_json({"format": FORMAT, "site_no": site_no, "sha256": sha256, "size": size})


def sign_open(private_key_b64: str, site_no: str, sha256: str, size: int) -> dict:
    """The proof a site attaches to ``POST /api/uploads`` for this one file."""
    return {"format": FORMAT, "site_no": str(site_no), "sha256": sha256, "size": int(size),
            "sig": sign_b64(private_key_b64, _message(str(site_no), sha256, int(size)))}


def verify_open(body: Mapping[str, Any], site_public_keys: Mapping[str, str]) -> str:
    """Check the proof in an open request (``site_no``, ``sig`` beside ``sha256``/``size``);
    return the site_no or raise OpenRefused."""
    site_no, sig = body.get("site_no"), body.get("sig")
    if not isinstance(site_no, str) or not isinstance(sig, str) or not site_no or not sig:
        raise OpenRefused(401, "signature_required",
                          "开始上传需要考点签名（成绩包旁的 .sig 文件）；没有时请整包上传")
    issued = site_public_keys.get(site_no)
    if not issued:
        raise OpenRefused(403, "unknown_site", f"考点 {site_no} 不在本中心签发的考点密钥名单中")
    try:
        message = _message(site_no, str(body.get("sha256")), int(body.get("size")))
    except (ValueError, TypeError):
        message = None
    if message is None or not signed_by(issued, sig, message):
        raise OpenRefused(403, "bad_signature", f"上传请求的签名与考点 {site_no} 的密钥不符")
    return site_no


def proof_path(bundle_path: str | Path) -> Path:
    p = Path(bundle_path)
    return p.with_name(p.name + PROOF_SUFFIX)


def read_proof(bundle_path: str | Path, sha256: str, size: int) -> dict | None:
    """The proof stored beside a bundle file, if it is there and is for these bytes."""
    try:
        proof = json.loads(proof_path(bundle_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(proof, dict) or proof.get("sha256") != sha256 or proof.get("size") != size:
        return None
    return proof
