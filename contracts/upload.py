"""The client side of the centre's upload protocol (docs/sync.md): resumable chunked upload
with bounded, jittered backoff, and the centre's signed receipt. The hall's `hall sync` and
the county office's run both upload through it.

States reported to ``on_state`` (and written to ``<bundle>.sync.json`` for the console):
  pending    – not sent yet / centre unreachable, waiting ``retry_in`` seconds
  uploading  – ``percent`` of the bytes committed at the centre
  accepted   – ``receipt`` from the centre (``duplicate`` true when it already had it)
  rejected   – ``reason`` {code, message} from the centre; final, retrying will not help
"""
from __future__ import annotations

import base64
import hashlib
import json
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import requests

from .audit_chain import canonical_json
from .upload_proof import read_proof

DEFAULT_CHUNK = 256 * 1024


class Retryable(Exception):
    pass


@dataclass
class UploadResult:
    state: str                      # accepted | rejected | pending (gave up for now)
    bundle_id: str
    duplicate: bool = False
    receipt: dict | None = None
    reason: dict | None = None
    retries: int = 0
    seconds: float = 0.0
    path: str | None = None
    site_no: str = ""

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items()}


@dataclass
class Backoff:
    """Full-jitter exponential backoff: delay_n = U(0, min(cap, base * 2**n)), n counting
    consecutive failures without progress; give up after ``max_retries`` of them."""
    base: float = 0.5
    cap: float = 30.0
    max_retries: int = 12
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, n: int) -> float:
        return self.rng.uniform(0, min(self.cap, self.base * (2 ** min(n, 30))))


def reachable(url: str, timeout: float = 3.0, session: requests.Session | None = None) -> bool:
    try:
        r = (session or requests).get(url.rstrip("/") + "/api/health", timeout=timeout)
        return r.status_code == 200 and r.json().get("ok") is True
    except (requests.RequestException, ValueError):
        return False


def verify_receipt(receipt: dict, centre_public_key_b64: str) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    body = {k: v for k, v in receipt.items() if k != "signature"}
    try:
        Ed25519PublicKey.from_public_bytes(base64.b64decode(centre_public_key_b64)).verify(
            base64.b64decode(receipt["signature"]["value"]), canonical_json(body))
        return True
    except (InvalidSignature, KeyError, ValueError, TypeError):
        return False


def _json(r: requests.Response) -> dict:
    try:
        d = r.json()
        return d if isinstance(d, dict) else {}
    except ValueError:
        return {}


def upload_bundle(data: bytes | str | Path, url: str, *, chunk_size: int = DEFAULT_CHUNK,
                  session: requests.Session | None = None, on_state: Callable[[dict], None] | None = None,
                  backoff: Backoff | None = None, sleep: Callable[[float], None] = time.sleep,
                  timeout: tuple[float, float] = (3.0, 60.0), centre_public_key: str | None = None,
                  deadline_s: float | None = None, open_proof: dict | None = None,
                  state_files: bool = True) -> UploadResult:
    """Upload one bundle; resumes after any cut; harmless to repeat. Never raises for
    network trouble: returns state 'pending' when retries are exhausted. Opening a
    resumable upload needs the site's proof (``open_proof``, or the ``.sig`` file beside
    ``data``); without one the whole file goes in one request (``_open_request``). With a
    path and ``state_files``, the state and receipt are kept beside it (the hall's outbox, for
    the console); the county run keeps its summary instead and writes nothing on the stick."""
    path = None
    if isinstance(data, (str, Path)):
        path = Path(data)
        data = path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    size = len(data)
    base = url.rstrip("/")
    s = session or requests.Session()
    bo = backoff or Backoff()
    t0 = time.monotonic()
    state_file = path.with_name(path.name + ".sync.json") if path and state_files else None
    proof = open_proof or (read_proof(path, sha, size) if path else None)

    def report(state: str, **kw):
        info = {"state": state, "bundle_id": sha, "size": size, **kw}
        if path is not None:
            info["file"] = path.name
        if state_file is not None:
            try:
                state_file.write_text(json.dumps({**info, "at": time.time()}, ensure_ascii=False), encoding="utf-8")
            except OSError:
                pass
        if on_state:
            on_state(info)

    def done(res: UploadResult) -> UploadResult:
        res.seconds = time.monotonic() - t0
        res.path = str(path) if path else None
        if res.state == "accepted":
            if centre_public_key and not verify_receipt(res.receipt or {}, centre_public_key):
                res.state, res.reason = "rejected", {"code": "bad_receipt", "message": "中心回执签名无效"}
            elif (res.receipt or {}).get("bundle_id") != sha:
                res.state, res.reason = "rejected", {"code": "bad_receipt", "message": "中心回执与成绩包不符"}
        if res.state == "accepted":
            res.site_no = str(res.receipt.get("site_no", ""))
            if state_file is not None:
                path.with_name(path.name + ".receipt.json").write_text(
                    json.dumps(res.receipt, ensure_ascii=False, indent=1), encoding="utf-8")
            report("accepted", percent=100, receipt=res.receipt, duplicate=res.duplicate)
        elif res.state == "rejected":
            report("rejected", reason=res.reason)
        else:
            report("pending", reason=res.reason)
        return res

    upload_id: str | None = None
    offset = 0
    failures = 0
    retries = 0
    need_sync = False
    report("pending", percent=0)
    while True:
        try:
            if upload_id is None:
                r = _open_request(s, base, data, sha, proof, timeout)
                d = _json(r)
                if r.status_code == 200 and d.get("status") in ("duplicate", "accepted"):
                    return done(UploadResult("accepted", sha, duplicate=bool(d.get("duplicate")),
                                             receipt=d["receipt"], retries=retries))
                if r.status_code == 201:
                    upload_id, offset, need_sync = d["upload_id"], int(d["offset"]), False
                elif r.status_code >= 500 or r.status_code == 429:
                    raise Retryable(f"HTTP {r.status_code}")
                else:
                    return done(UploadResult("rejected", sha, reason=d.get("error") or
                                             {"code": f"http_{r.status_code}", "message": r.text[:200]}, retries=retries))
            if need_sync:
                r = s.get(f"{base}/api/uploads/{upload_id}", timeout=timeout)
                if r.status_code == 404:
                    upload_id = None
                    continue
                if r.status_code != 200:
                    raise Retryable(f"HTTP {r.status_code}")
                committed = int(_json(r)["offset"])
                if committed > offset:
                    failures = 0              # the lost answer had committed: that is progress too
                offset, need_sync = committed, False
            while offset < size:
                report("uploading", percent=round(offset * 100 / size, 1))
                chunk = data[offset: offset + chunk_size]
                r = s.put(f"{base}/api/uploads/{upload_id}", params={"offset": offset}, data=chunk,
                          headers={"Content-Type": "application/octet-stream"}, timeout=timeout)
                d = _json(r)
                if r.status_code == 200:
                    new = int(d["offset"])
                    if new > offset:
                        failures = 0          # progress: the retry budget starts again
                    offset = new
                elif r.status_code == 409:
                    offset = int(d.get("error", {}).get("offset", offset))
                elif r.status_code == 404:
                    upload_id = None
                    break
                elif r.status_code >= 500 or r.status_code == 429:
                    raise Retryable(f"HTTP {r.status_code}")
                else:
                    return done(UploadResult("rejected", sha, reason=d.get("error"), retries=retries))
            if upload_id is None:
                continue
            report("uploading", percent=100.0)
            r = s.post(f"{base}/api/uploads/{upload_id}/finalize", timeout=timeout)
            d = _json(r)
            if r.status_code == 200:
                return done(UploadResult("accepted", sha, duplicate=bool(d.get("duplicate")),
                                         receipt=d["receipt"], retries=retries))
            if r.status_code == 409:
                offset = int(d.get("error", {}).get("offset", 0))
                continue
            if r.status_code == 404:
                upload_id = None
                continue
            if r.status_code == 422:
                err = d.get("error") or {}
                if err.get("code") == "hash_mismatch" and failures < bo.max_retries:
                    upload_id, failures = None, failures + 1   # bytes got damaged: send them again
                    continue
                return done(UploadResult("rejected", sha, reason=err, retries=retries))
            if r.status_code >= 500 or r.status_code == 429:
                raise Retryable(f"HTTP {r.status_code}")
            return done(UploadResult("rejected", sha, reason=d.get("error") or
                                     {"code": f"http_{r.status_code}", "message": r.text[:200]}, retries=retries))
        except (requests.RequestException, Retryable, KeyError, ValueError) as e:
            failures += 1
            retries += 1
            need_sync = upload_id is not None
            if failures > bo.max_retries or (deadline_s is not None and time.monotonic() - t0 > deadline_s):
                return done(UploadResult("pending", sha, retries=retries,
                                         reason={"code": "unreachable", "message": f"中心暂时无法连接: {type(e).__name__}"}))
            wait = bo.delay(failures)
            report("pending", percent=round(offset * 100 / size, 1), retry_in=round(wait, 2),
                   reason={"code": "unreachable", "message": f"连接中断，{wait:.1f} 秒后重试"})
            sleep(wait)


def _open_request(s: requests.Session, base: str, data: bytes, sha: str, proof: dict | None, timeout):
    """Open (or resume) the upload with the site's proof; without a proof the centre
    reserves nothing, so the whole file goes to ``/api/bundles`` (verified on arrival)."""
    if proof is None:
        return s.post(f"{base}/api/bundles", data=data, timeout=timeout,
                      headers={"Content-Type": "application/octet-stream"})
    return s.post(f"{base}/api/uploads", timeout=timeout, json={
        "sha256": sha, "size": len(data), "site_no": proof["site_no"], "sig": proof["sig"]})
