"""The site's outbox (data_dir/outbox): result bundles exported for the USB stick or the
upload, each with the site's upload proof beside it, and the state the console shows.
`hall sync` and the console's 上传到市定考办 / 导出到U盘 use it (docs/sync.md).
"""
from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

from contracts.result_bundle import BUNDLE_SUFFIX, bundle_file_name, looks_like_bundle
from contracts.upload import UploadResult, upload_bundle
from contracts.upload_proof import proof_path, sign_open

from .durable import write_atomic
from .result_export import build_result_bundle, site_signing_key


def write_open_proof(db_path: str | Path, bundle_path: str | Path) -> Path:
    """Sign the upload-open proof for this bundle file with the site's key and store it
    beside the file (``<file>.sig``), so whoever carries the file can upload it resumably."""
    bundle_path = Path(bundle_path)
    data = bundle_path.read_bytes()
    site_no, priv = site_signing_key(db_path)
    proof = sign_open(priv, site_no, hashlib.sha256(data).hexdigest(), len(data))
    out = proof_path(bundle_path)
    tmp = out.with_name(out.name + ".part")
    tmp.write_text(json.dumps(proof, ensure_ascii=False), encoding="utf-8")
    tmp.replace(out)
    return out


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
    """Atomic and on disk before it returns (a USB stick pulled right after keeps a whole
    file; the rename too, which the folder's fsync makes durable)."""
    write_atomic(path, data, tmp=path.with_name(path.name + ".part"))


def export_bundle(db_path: str | Path, out: str | Path, sitting_id: str | None = None,
                  copy_to: str | Path | None = None) -> tuple[Path, str]:
    """Write the bundle file and return (path, sha256). ``out`` is the file when it ends in
    .hallresult; anything else is a folder (created if missing) and the file in it is named
    by ``bundle_file_name``. ``copy_to`` (a file or folder, e.g. the USB stick) gets the same
    bytes; the path returned is then the copy's."""
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
