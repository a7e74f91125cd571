"""python -m sync.central serve|import|set-pass-mark|status"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sync.central", description="市定考办 成绩包接收服务")
    sub = ap.add_subparsers(dest="cmd", required=True)

    def common(p, keys=True):
        p.add_argument("--db", required=True)
        if keys:
            p.add_argument("--site-keys", required=True, help="site_keys.json {site_no: public_b64}")
            p.add_argument("--answer-keys", help="{ticket: [key...]} JSON")
            p.add_argument("--roster", help="CSV ticket,site_no,name,id_number,category,level,unit,department")
    s = sub.add_parser("serve")
    common(s)
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8700)
    s.add_argument("--sites-csv")
    s.add_argument("--admin-token")
    i = sub.add_parser("import", help="导入U盘成绩包文件（与上传同样校验）")
    common(i)
    i.add_argument("files", nargs="+")
    m = sub.add_parser("set-pass-mark")
    common(m, keys=False)
    m.add_argument("--category", required=True)
    m.add_argument("--level", required=True)
    m.add_argument("--mark", type=float, required=True)
    st = sub.add_parser("status")
    common(st, keys=False)
    st.add_argument("--sites-csv")
    a = ap.parse_args(argv)

    from .store import Store, load_answer_keys, load_site_registry
    if a.cmd == "serve":
        from werkzeug.serving import run_simple
        from .app import create_app
        app = create_app({"db": a.db, "site_keys": a.site_keys, "answer_keys": a.answer_keys,
                          "roster": a.roster, "sites_csv": a.sites_csv, "admin_token": a.admin_token})
        run_simple(a.host, a.port, app, threaded=True)
        return 0
    if a.cmd == "import":
        from ..result_bundle import BundleRejected
        reg = load_site_registry(a.site_keys)
        store = Store(a.db, site_keys={k: v["public"] for k, v in reg.items()},
                      plan_ids={k: v["bundle_id"] for k, v in reg.items()})
        if a.roster:
            store.load_roster_csv(a.roster)
        if a.answer_keys:
            store.load_answer_keys(load_answer_keys(a.answer_keys))
        rc = 0
        for f in a.files:
            data = Path(f).read_bytes()
            try:
                status, rec = store.ingest(data, source="usb")
                print(f"{'已接收' if status == 'accepted' else '中心已有'}  {f}  考点 {rec['site_no']}  "
                      f"回执 {rec['receipt_no']}  sha256 {rec['bundle_id']}")
            except BundleRejected as e:
                rc = 2
                print(f"拒收  {f}  [{e.code}] {e.message_zh}")
        return rc
    if a.cmd == "set-pass-mark":
        Store(a.db).set_pass_mark(a.category, a.level, a.mark)
        return 0
    if a.cmd == "status":
        from .reports import site_status
        print(json.dumps(site_status(Store(a.db), a.sites_csv)["totals"], ensure_ascii=False, indent=1))
        return 0
    return 1


if __name__ == "__main__":
    sys.exit(main())
