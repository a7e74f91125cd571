"""Upload client: resumable chunked upload with bounded, jittered backoff; the county
office batch run; USB export. Protocol: docs/sync.md.

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
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import requests

from contracts.audit_chain import canonical_json
from .upload_proof import proof_path, read_proof, sign_open

BUNDLE_SUFFIX = ".hallresult"
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


def write_open_proof(db_path: str | Path, bundle_path: str | Path) -> Path:
    """Sign the upload-open proof for this bundle file with the site's key and store it
    beside the file (``<file>.sig``), so whoever carries the file can upload it resumably."""
    from .result_bundle import site_signing_key
    bundle_path = Path(bundle_path)
    data = bundle_path.read_bytes()
    site_no, priv = site_signing_key(db_path)
    proof = sign_open(priv, site_no, hashlib.sha256(data).hexdigest(), len(data))
    out = proof_path(bundle_path)
    tmp = out.with_name(out.name + ".part")
    tmp.write_text(json.dumps(proof, ensure_ascii=False), encoding="utf-8")
    tmp.replace(out)
    return out


# ---------------------------------------------------------------------- USB export

# Canonical JSON sorts the envelope's keys, so every result bundle starts with these bytes:
# how a bundle is recognised whatever its file name (an early version wrote one named "outbox").
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


def ensure_outbox(outbox: str | Path) -> Path:
    """The outbox folder, created if missing. A plain file in its place (what the first USB
    export of an early version left behind) is kept: moved into the folder under its
    bundle name when it is a bundle, or beside it otherwise."""
    outbox = Path(outbox)
    if outbox.exists() and not outbox.is_dir():
        aside = outbox.with_name(outbox.name + ".file")
        outbox.replace(aside)
        outbox.mkdir(parents=True)
        if looks_like_bundle(aside):
            try:
                aside.replace(outbox / bundle_file_name(aside.read_bytes()))
            except (OSError, ValueError, KeyError):
                pass
    outbox.mkdir(parents=True, exist_ok=True)
    return outbox


def _target(out: Path, name: str) -> Path:
    """``out`` itself when it names a .hallresult file, else ``out/name`` (folder created)."""
    if out.name.endswith(BUNDLE_SUFFIX) and not out.is_dir():
        out.parent.mkdir(parents=True, exist_ok=True)
        return out
    return ensure_outbox(out) / name


def write_bundle_file(data: bytes, path: Path) -> None:
    """Atomic and on disk before it returns (a USB stick pulled right after keeps a whole file)."""
    import os

    tmp = path.with_name(path.name + ".part")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)


def export_bundle(db_path: str | Path, out: str | Path, sitting_id: str | None = None,
                  copy_to: str | Path | None = None) -> tuple[Path, str]:
    """Write the bundle file and return (path, sha256). ``out`` is the file when it ends in
    .hallresult; anything else is a folder (created if missing) and the file in it is named
    by ``bundle_file_name``. ``copy_to`` (a file or folder, e.g. the USB stick) gets the same
    bytes; the path returned is then the copy's."""
    from .result_bundle import build_result_bundle
    data = build_result_bundle(db_path, sitting_id)
    sha = hashlib.sha256(data).hexdigest()
    name = bundle_file_name(data, sha)
    path = _target(Path(out), name)
    write_bundle_file(data, path)
    write_open_proof(db_path, path)   # <file>.sig: lets whoever carries it upload resumably
    if copy_to is not None:
        record_export(path, sha)
        path = _target(Path(copy_to), name)
        write_bundle_file(data, path)
        write_open_proof(db_path, path)
    return path, sha


def record_export(path: Path, sha: str) -> None:
    """Tell the console a bundle went to USB, unless that same bundle already has an upload
    state (re-exporting unchanged results must not hide an accepted receipt)."""
    state_file = path.with_name(path.name + ".sync.json")
    if state_file.exists():
        state_file.touch()               # newest again: the console shows this bundle
        return
    state_file.write_text(json.dumps({"state": "exported", "bundle_id": sha, "file": path.name,
                                      "size": path.stat().st_size, "at": time.time()}, ensure_ascii=False),
                          encoding="utf-8")


def sync_now(db_path: str | Path, url: str, outbox: str | Path, **kw) -> UploadResult:
    """`hall sync` / the console button: export into ``outbox`` then upload (with retries)."""
    path, _ = export_bundle(db_path, ensure_outbox(outbox))
    return upload_bundle(path, url, **kw)


def last_state(outbox: str | Path) -> dict | None:
    """For the chief's console: the state of the newest bundle in ``outbox``
    ({state, percent, receipt | reason, bundle_id, file, at}), or None before any export or
    sync. ``state`` is exported | pending | uploading | accepted | rejected."""
    outbox = Path(outbox)
    if not outbox.is_dir():
        return None
    files = sorted(outbox.glob(f"*{BUNDLE_SUFFIX}.sync.json"), key=lambda p: p.stat().st_mtime)
    if not files:
        return None
    try:
        st = json.loads(files[-1].read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    st.setdefault("file", files[-1].name[: -len(".sync.json")])
    return st


# ---------------------------------------------------------------------- county office run

# Files the hall itself writes beside a bundle: never uploaded; named in the county run's
# summary (records of a bundle that is in the folder are only counted: they are expected).
RECORD_ENDINGS = (".sync.json", ".receipt.json", ".sig")  # .sig: an upload proof whose bundle is gone
OTHER_ENDINGS = {".part": "未写完的导出文件（请在考点重新导出）", "sync.log": "上传日志（不是成绩包）"}
RECORD_WHY = "上传状态/回执记录或上传凭证（不是成绩包，随成绩包一起保留）"


def why_not_a_bundle(path: Path) -> str:
    if path.name.endswith(RECORD_ENDINGS):
        return RECORD_WHY
    for end, why in OTHER_ENDINGS.items():
        if path.name.endswith(end):
            return why
    if path.name.endswith(BUNDLE_SUFFIX) or looks_like_bundle(path):
        return ""                                # (a bundle under another name is taken too)
    return "不是成绩包文件（成绩包以 .hallresult 结尾，由考点“导出到U盘”生成）"


def scan_folder(folder: str | Path) -> tuple[list[Path], list[tuple[Path, str]], list[Path]]:
    """Every regular file under ``folder``: (bundles to upload, [(file, why it is not
    taken)], records of bundles that are in the folder)."""
    take, skip, records = [], [], []
    folder = Path(folder)
    for p in ([folder] if folder.is_file() else sorted(folder.rglob("*"))):
        if not p.is_file():
            continue
        why = why_not_a_bundle(p)
        beside = p.with_name(p.name.rsplit(BUNDLE_SUFFIX, 1)[0] + BUNDLE_SUFFIX)
        if not why:
            take.append(p)
        elif p.name.endswith(BUNDLE_SUFFIX + ".sig") and beside.is_file():
            continue                     # the site's upload proof: read with its bundle
        elif why == RECORD_WHY and p.with_name(p.name.rsplit(BUNDLE_SUFFIX, 1)[0] + BUNDLE_SUFFIX).is_file():
            records.append(p)
        else:
            skip.append((p, why))
    return take, skip, records


def find_bundles(folder: str | Path) -> list[Path]:
    return scan_folder(folder)[0]


def _site_of(path: Path) -> str:
    try:
        return str(json.loads(path.read_bytes())["payload"]["site"]["site_no"])
    except Exception:
        return "?"


def county_run(folder: str | Path, url: str, *, out=sys.stderr, report_path: str | Path | None = None,
               **kw) -> dict:
    """Upload every *.hallresult under ``folder``; progress bar on ``out``; returns the
    summary {accepted: [...], already: [...], refused: [...], pending: [...]}."""
    files, skipped, records = scan_folder(folder)
    total_bytes = sum(p.stat().st_size for p in files) or 1
    done_bytes = 0
    summary: dict[str, list] = {"accepted": [], "already": [], "refused": [], "pending": [],
                                "skipped": [{"file": str(p), "reason": {"code": "not_a_bundle", "message": why}}
                                            for p, why in skipped]}

    def bar(i: int, name: str, pct: float):
        frac = (done_bytes + pct / 100 * files[i].stat().st_size) / total_bytes
        n = int(frac * 30)
        out.write(f"\r[{'#' * n}{'.' * (30 - n)}] {frac * 100:5.1f}%  {i + 1}/{len(files)}  {name[:40]:<40}")
        out.flush()

    for i, p in enumerate(files):
        bar(i, p.name, 0)
        res = upload_bundle(p, url, on_state=lambda st, i=i, p=p: bar(i, p.name, st.get("percent") or 0),
                            state_files=False, **kw)
        res.site_no = res.site_no or _site_of(p)
        done_bytes += p.stat().st_size
        row = {"file": str(p), "site_no": res.site_no, "bundle_id": res.bundle_id,
               "receipt_no": (res.receipt or {}).get("receipt_no"), "reason": res.reason}
        if res.state == "accepted":
            summary["already" if res.duplicate else "accepted"].append(row)
        elif res.state == "rejected":
            summary["refused"].append(row)
        else:
            summary["pending"].append(row)
    out.write("\n")
    lines = [f"共 {len(files)} 个成绩包：新接收 {len(summary['accepted'])}，中心已有 {len(summary['already'])}，"
             f"被拒收 {len(summary['refused'])}，未能上传（稍后重试） {len(summary['pending'])}"]
    if skipped:
        lines.append(f"另有 {len(skipped)} 个文件未处理：")
        lines += [f"  未处理  {p.relative_to(folder) if p != Path(folder) else p.name}: {why}" for p, why in skipped]
    if records:
        lines.append(f"（另有 {len(records)} 个成绩包的上传状态/回执记录文件，不是成绩包，不上传）")
    for row in summary["refused"]:
        lines.append(f"  拒收  考点 {row['site_no']}  {Path(row['file']).name}: {row['reason'].get('message')}"
                     f" [{row['reason'].get('code')}]")
    for row in summary["pending"]:
        lines.append(f"  未传  考点 {row['site_no']}  {Path(row['file']).name}: {row['reason'].get('message')}")
    out.write("\n".join(lines) + "\n")
    if report_path:
        import csv
        with open(report_path, "w", encoding="utf-8-sig", newline="") as f:
            w = csv.writer(f)
            w.writerow(["结果", "考点编号", "文件", "成绩包哈希", "回执号", "原因"])
            for k, zh in (("accepted", "新接收"), ("already", "中心已有"), ("refused", "拒收"), ("pending", "未传")):
                for row in summary[k]:
                    w.writerow([zh, row["site_no"], Path(row["file"]).name, row["bundle_id"], row["receipt_no"] or "",
                                (row["reason"] or {}).get("message", "")])
            for row in summary["skipped"]:
                w.writerow(["未处理", "", Path(row["file"]).name, "", "", row["reason"]["message"]])
    summary["text"] = "\n".join(lines)
    return summary
