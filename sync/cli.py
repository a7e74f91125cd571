"""python -m sync upload|county-run|verify (see docs/sync.md). The site's own export and
upload are `hall sync` (the hall's CLI); this is the county office's and the centre's side.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _show(st) -> None:
    """One progress line on stderr, rewritten in place."""
    msg = {"pending": "等待", "uploading": "上传中", "accepted": "已接收", "rejected": "被拒收"}[st["state"]]
    extra = f" {st.get('percent', '')}%" if st["state"] == "uploading" else ""
    if st.get("reason"):
        extra += f" {st['reason'].get('message', '')}"
    print(f"\r{msg}{extra}".ljust(60), end="", file=sys.stderr, flush=True)


def cmd_verify(a) -> int:
    from contracts.result_bundle import BundleRejected, verify_result_bundle

    from .central.store import load_site_keys
    try:
        p = verify_result_bundle(Path(a.bundle).read_bytes(), load_site_keys(a.site_keys))
    except BundleRejected as err:
        print(f"拒收 [{err.code}] {err.message_zh}")
        return 2
    print(f"有效  考点 {p['site']['site_no']} {p['site']['site_name']}  第 {p['generation']} 代  "
          f"{p['counts']}  sha256 {p['bundle_id']}")
    return 0


def cmd_upload(a) -> int:
    from contracts.upload import Backoff, upload_bundle
    res = upload_bundle(a.bundle, a.url, chunk_size=a.chunk, on_state=_show,
                        backoff=Backoff(max_retries=a.retries), centre_public_key=a.centre_key)
    print(file=sys.stderr)
    print(json.dumps(res.as_dict(), ensure_ascii=False, indent=1))
    return {"accepted": 0, "rejected": 2}.get(res.state, 3)


def cmd_county_run(a) -> int:
    from contracts.upload import Backoff

    from .county import county_run
    s = county_run(a.dir, a.url, report_path=a.report, chunk_size=a.chunk,
                   backoff=Backoff(max_retries=a.retries), centre_public_key=a.centre_key)
    return 0 if not s["refused"] and not s["pending"] else (2 if s["refused"] else 3)


def build_parser() -> argparse.ArgumentParser:
    """Every command, each bound to its cmd_* function (set_defaults(fn=...))."""
    ap = argparse.ArgumentParser(prog="python -m sync", description="成绩包上传（区县）与校验")
    sub = ap.add_subparsers(dest="cmd", required=True)
    sending = argparse.ArgumentParser(add_help=False)     # what both upload commands take
    sending.add_argument("--url", required=True)
    sending.add_argument("--chunk", type=int, default=256 * 1024)
    sending.add_argument("--centre-key", help="centre public key (base64): verify each receipt's signature")
    u = sub.add_parser("upload", parents=[sending], help="上传一个成绩包（可断点续传）")
    u.set_defaults(fn=cmd_upload)
    u.add_argument("--bundle", required=True)
    u.add_argument("--retries", type=int, default=12)
    c = sub.add_parser("county-run", parents=[sending], help="区县批量上传一个文件夹/U盘里的所有成绩包")
    c.set_defaults(fn=cmd_county_run)
    c.add_argument("dir")
    c.add_argument("--report", help="write a CSV summary here")
    c.add_argument("--retries", type=int, default=6)
    v = sub.add_parser("verify", help="本地校验成绩包文件")
    v.set_defaults(fn=cmd_verify)
    v.add_argument("bundle")
    v.add_argument("--site-keys", required=True)
    return ap


def main(argv: list[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    for attr in ("bundle", "dir"):
        if getattr(a, attr, None) and not Path(getattr(a, attr)).exists():
            print(f"找不到 {getattr(a, attr)}", file=sys.stderr)
            return 1
    return a.fn(a)
