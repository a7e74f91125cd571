"""python -m sync.central serve|import|set-pass-mark|status|admin-token

--db is a SQLite file path or a PostgreSQL URL (postgresql://user:password@host/dbname)."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

TOKEN_ENV = "HALL_CENTRAL_ADMIN_TOKEN"


def _token_banner(auth, url: str, db: str) -> str:
    from .dbconn import redact
    line = "=" * 64
    if auth.configured:
        body = " 管理口令：由 --admin-token / 环境变量 %s 指定" % TOKEN_ENV
    elif auth.new_token:
        t = auth.new_token
        body = (f" 管理口令（首次启动时生成，只显示这一次，请抄下交给使用者）:\n     {t}\n"
                f" 浏览器打开 {url}/ 并输入口令（或打开 {url}/?token={t} ）\n"
                f" 脚本: Authorization: Bearer {t}")
    else:
        body = " 管理口令已在首次启动时显示。忘记时重新生成（旧口令随即作废）:"
        body += f"\n   python -m sync.central admin-token --db {redact(db)}"
    return f"{line}\n 市定考办 成绩包接收服务  {url}/\n{body}\n{line}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sync.central", description="市定考办 成绩包接收服务")
    sub = ap.add_subparsers(dest="cmd", required=True)

    def common(p, keys=True):
        p.add_argument("--db", required=True, help="SQLite file, or postgresql://user:password@host/dbname")
        p.add_argument("--spool-dir", help="partial uploads (default <db>.spool; PostgreSQL: var/central-spool/…)")
        if keys:
            p.add_argument("--site-keys", required=True, help="site_keys.json {site_no: public_b64}")
            p.add_argument("--answer-keys", help="{ticket: [key...]} JSON")
            p.add_argument("--roster", help="CSV ticket,site_no,name,id_number,category,level,unit,department")
    s = sub.add_parser("serve")
    common(s)
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8700)
    s.add_argument("--sites-csv")
    s.add_argument("--admin-token", default=os.environ.get(TOKEN_ENV),
                   help=f"fixed admin token (or ${TOKEN_ENV}); default: generated at the first start")
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
    t = sub.add_parser("admin-token", help="生成新的管理口令（旧口令随即作废）")
    common(t, keys=False)
    a = ap.parse_args(argv)

    from .store import Store, load_answer_keys, load_site_registry
    if a.cmd == "serve":
        from werkzeug.serving import run_simple
        from .app import create_app
        app = create_app({"db": a.db, "spool_dir": a.spool_dir, "site_keys": a.site_keys,
                          "answer_keys": a.answer_keys, "roster": a.roster, "sites_csv": a.sites_csv,
                          "admin_token": a.admin_token})
        print(_token_banner(app.extensions["central_admin"], f"http://{a.host}:{a.port}", a.db),
              file=sys.stderr, flush=True)
        run_simple(a.host, a.port, app, threaded=True)
        return 0
    if a.cmd == "import":
        from ..result_bundle import BundleRejected
        reg = load_site_registry(a.site_keys)
        store = Store(a.db, site_keys={k: v["public"] for k, v in reg.items()},
                      plan_ids={k: v["bundle_id"] for k, v in reg.items()}, spool_dir=a.spool_dir)
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
        store = Store(a.db, spool_dir=a.spool_dir)
        store.set_pass_mark(a.category, a.level, a.mark)
        scored = [r["centre_score"] for r in store.results()
                  if r["category"] == a.category and r["level"] == a.level and r["centre_score"] is not None]
        passed = sum(1 for x in scored if x >= a.mark)
        print(f"已设置合格分数线：{a.category} {a.level} {a.mark:g} 分。"
              f"目前已评分 {len(scored)} 人，其中合格 {passed} 人、不合格 {len(scored) - passed} 人。")
        return 0
    if a.cmd == "status":
        from .reports import site_status
        print(json.dumps(site_status(Store(a.db, spool_dir=a.spool_dir), a.sites_csv)["totals"],
                         ensure_ascii=False, indent=1))
        return 0
    if a.cmd == "admin-token":
        from .admin import AdminAuth
        print(AdminAuth.reset(Store(a.db, spool_dir=a.spool_dir)))
        return 0
    return 1


if __name__ == "__main__":
    sys.exit(main())
