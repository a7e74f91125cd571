"""python -m sync.central serve|import|set-pass-mark|status|admin-token|office-token|makeup-roster

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


def cmd_serve(a) -> int:
    from .admin import AdminAuth
    from .app import load_inputs, open_store
    from .serve import DEFAULT_THREADS, default_workers, gunicorn_options, run_gunicorn
    from .settings import resolve
    cfg = resolve({"db": a.db, "spool_dir": a.spool_dir, "site_keys": a.site_keys, "answer_keys": a.answer_keys,
                   "roster": a.roster, "sites_csv": a.sites_csv, "admin_token": a.admin_token,
                   "upload_idle_minutes": a.upload_idle_minutes})
    store = open_store(cfg)               # once, before any worker: schema, inputs, the token
    load_inputs(store, cfg)
    auth = AdminAuth(store, cfg["admin_token"])
    print(_token_banner(auth, f"http://{a.host}:{a.port}", a.db), file=sys.stderr, flush=True)
    store.close()
    if a.server == "werkzeug":
        from werkzeug.serving import run_simple
        from .app import create_app
        run_simple(a.host, a.port, create_app({**cfg, "load_inputs": False}), threaded=True)
        return 0
    run_gunicorn(cfg, gunicorn_options(a.host, a.port, a.workers or default_workers(str(a.db)),
                                       a.threads or DEFAULT_THREADS, a.access_log))
    return 0


def _store(a):
    from .store import Store
    return Store(a.db, spool_dir=a.spool_dir)


def cmd_import(a) -> int:
    from contracts.result_bundle import BundleRejected
    from .store import Store, load_answer_keys, load_site_registry
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


def cmd_set_pass_mark(a) -> int:
    store = _store(a)
    store.set_pass_mark(a.category, a.level, a.mark)
    scored = [r["centre_score"] for r in store.results()
              if r["category"] == a.category and r["level"] == a.level and r["centre_score"] is not None]
    passed = sum(1 for x in scored if x >= a.mark)
    print(f"已设置合格分数线：{a.category} {a.level} {a.mark:g} 分。"
          f"目前已评分 {len(scored)} 人，其中合格 {passed} 人、不合格 {len(scored) - passed} 人。")
    return 0


def cmd_status(a) -> int:
    from .reports import site_status
    print(json.dumps(site_status(_store(a), a.sites_csv)["totals"], ensure_ascii=False, indent=1))
    return 0


def cmd_office_token(a) -> int:
    import csv
    from .accounts import issue_office_token
    from .offices import load_offices
    store = _store(a)
    names = a.office or [o["office"] for o in load_offices()]
    try:
        issued = [issue_office_token(store, n) for n in names]
    except KeyError as e:
        print(e.args[0], file=sys.stderr)
        return 2
    rows = [[o["no"], o["office"], o["account"], o["phones"], tok] for o, tok in issued]
    if a.out:
        with open(a.out, "w", encoding="utf-8-sig", newline="") as f:
            csv.writer(f).writerows([["序号", "区县定考办", "账号", "电话", "口令"], *rows])
        print(f"已为 {len(rows)} 个区县定考办生成口令，账号单: {a.out}（请妥善保管，旧口令已作废）")
    else:
        for r in rows:
            print("  ".join(str(x) for x in r))
    return 0


def cmd_makeup_roster(a) -> int:
    import csv
    with open(a.file, encoding="utf-8-sig", newline="") as f:
        n = _store(a).load_makeup_roster(csv.DictReader(f))
    print(f"补考名单 {n} 人")
    return 0


def cmd_admin_token(a) -> int:
    from .admin import AdminAuth
    print(AdminAuth.reset(_store(a)))
    return 0



def build_parser() -> argparse.ArgumentParser:
    """Every command, each bound to its cmd_* function (set_defaults(fn=...))."""
    ap = argparse.ArgumentParser(prog="python -m sync.central", description="市定考办 成绩包接收服务")
    sub = ap.add_subparsers(dest="cmd", required=True)

    def common(p, keys=True):
        p.add_argument("--db", required=True, help="SQLite file, or postgresql://user:password@host/dbname")
        p.add_argument("--spool-dir", help="partial uploads (default <db>.spool; PostgreSQL: var/central-spool/…)")
        if keys:
            p.add_argument("--site-keys", required=True, help="site_keys.json {site_no: public_b64}")
            p.add_argument("--answer-keys", help="{ticket: [key...]} JSON")
            p.add_argument("--roster", help="CSV ticket,site_no,name,id_number,category,level,unit,department")
    s = sub.add_parser("serve", help="运行接收服务（gunicorn，多进程）")
    s.set_defaults(fn=cmd_serve)
    common(s)
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8700)
    s.add_argument("--sites-csv")
    s.add_argument("--upload-idle-minutes", type=float, default=None,
                   help="drop an open upload that received no bytes for this long (default 30)")
    s.add_argument("--admin-token", default=os.environ.get(TOKEN_ENV),
                   help=f"fixed admin token (or ${TOKEN_ENV}); default: generated at the first start")
    s.add_argument("--workers", type=int, help="gunicorn worker processes (default 4 on PostgreSQL, 2 on SQLite)")
    s.add_argument("--threads", type=int, help="threads per worker (default 8)")
    s.add_argument("--access-log", help="gunicorn access log file ('-' = stderr)")
    s.add_argument("--server", choices=("gunicorn", "werkzeug"), default="gunicorn",
                   help="werkzeug: one process, Flask's development server (debugging only)")
    i = sub.add_parser("import", help="导入U盘成绩包文件（与上传同样校验）")
    i.set_defaults(fn=cmd_import)
    common(i)
    i.add_argument("files", nargs="+")
    m = sub.add_parser("set-pass-mark")
    m.set_defaults(fn=cmd_set_pass_mark)
    common(m, keys=False)
    m.add_argument("--category", required=True)
    m.add_argument("--level", required=True)
    m.add_argument("--mark", type=float, required=True)
    st = sub.add_parser("status")
    st.set_defaults(fn=cmd_status)
    common(st, keys=False)
    st.add_argument("--sites-csv")
    t = sub.add_parser("admin-token", help="生成新的管理口令（旧口令随即作废）")
    t.set_defaults(fn=cmd_admin_token)
    common(t, keys=False)
    o = sub.add_parser("office-token", help="为区县定考办生成登录口令（旧口令随即作废）")
    o.set_defaults(fn=cmd_office_token)
    common(o, keys=False)
    o.add_argument("--office", action="append", help="区县定考办名称（可重复）；不给则为全部 41 个")
    o.add_argument("--out", help="write the accounts sheet (CSV: 序号, 区县定考办, 账号, 电话, 口令) here")
    mr = sub.add_parser("makeup-roster", help="导入补考名单：准考证号在哪个补考考点（CSV ticket,site_no）")
    mr.set_defaults(fn=cmd_makeup_roster)
    common(mr, keys=False)
    mr.add_argument("file")
    return ap


def main(argv: list[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    return a.fn(a)
