"""`hall`: the appliance's command line.

    hall serve            run the server (config: --config FILE)
    hall demo             build the demo site if missing, then serve it
    hall import BUNDLE    verify and import a signed site bundle into an empty database
    hall audit verify     check the audit log's hash chain
    hall staff add NAME   add a staff account (password from a prompt or --password-stdin)
    hall sync             export the signed result bundle and upload it (or --export to USB)
    hall print DOC ...    print a form as PDF: sign-in, room-record, poster, answer-cards, site-report
    hall doctor           考前自检: the preflight, pass/fail per line (exit 1 on a blocker)
    hall takeover --from FOLDER   a spare laptop starts from the replica on the USB stick
    hall rehearsal start|stop|wipe   模拟演练: a practice sitting in a database of its own
    hall install-service  run hall as a systemd service (start at boot, restart on failure)
    hall uninstall-service

eventlet must monkey-patch before anything imports socket or threading, so the heavy
imports happen inside the commands, after the config has chosen the async mode.
"""
from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

from . import config as config_mod

REPO = Path(__file__).resolve().parents[1]


def _config_path(args) -> str | None:
    """--config before or after the command (`hall --config c.toml demo`, `hall demo --config
    c.toml`, and so `make demo DEMO_ARGS="--config c.toml"`)."""
    return getattr(args, "config_sub", None) or args.config


def _load_config(args) -> config_mod.Config:
    overrides: dict = {}
    if getattr(args, "data_dir", None):
        overrides.setdefault("server", {})["data_dir"] = str(Path(args.data_dir).resolve())
    if getattr(args, "port", None):
        overrides.setdefault("server", {})["port"] = args.port
    if getattr(args, "host", None):
        overrides.setdefault("server", {})["host"] = args.host
    for section, values in getattr(args, "extra_overrides", {}).items():   # set by a command (rehearsal)
        overrides.setdefault(section, {}).update(values)
    return config_mod.load(_config_path(args), overrides)


def _prepare_async(cfg) -> None:
    if cfg["server"]["async_mode"] == "eventlet":
        # The owner chose eventlet knowing it is in maintenance mode; say so once, in the docs.
        warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
        import eventlet

        eventlet.monkey_patch()


def cmd_serve(args, banner_extra=None) -> int:
    cfg = _load_config(args)
    _prepare_async(cfg)
    import gc
    import logging

    from .app import create_app
    from .net.listen import PortInUse, listen, serve_eventlet
    from .web import assets

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for problem in assets.check():
        print(problem, file=sys.stderr)
        return 2
    try:
        hall = create_app(cfg)
    except RuntimeError as e:
        print(f"无法启动: {e}", file=sys.stderr)
        return 2
    srv = cfg["server"]
    hall.start_background()
    print_banner(hall, cfg, banner_extra)
    if srv["gc_freeze"]:
        gc.collect()
        gc.freeze()  # the loaded exam lives all day: keep it out of GC passes
    # The writer thread takes the GIL back after every SQLite call; while the event loop is
    # busy it waits up to the switch interval (5 ms) each time, so one group commit of a few
    # answers can take 10-20 ms at 500 answers/s. 0.5 ms: docs/benchmarks.md ("switch").
    sys.setswitchinterval(0.0005)
    if srv["async_mode"] == "eventlet":
        try:
            sock = listen(srv["host"], srv["port"])
        except PortInUse as e:
            print(f"\n!!! 无法启动: {e}\n", file=sys.stderr, flush=True)
            return 3
        if srv["tls_cert"] and srv["tls_key"]:
            import eventlet

            # the handshake runs in each connection's own green thread (eventlet's accept
            # does not do it), so a slow client cannot hold the accept loop
            sock = eventlet.wrap_ssl(sock, certfile=srv["tls_cert"], keyfile=srv["tls_key"], server_side=True)
        print(f"listening on {srv['host']}:{srv['port']}{' (https)' if srv['tls_cert'] else ''}", flush=True)
        from .auth.staff import address_allowed

        allow = cfg["security"]["staff_allowlist"]
        serve_eventlet(sock, hall.app, srv, lambda ip: address_allowed(ip, allow), hall.credentials())
    else:
        hall.socketio.run(hall.app, host=srv["host"], port=srv["port"], allow_unsafe_werkzeug=True)
    return 0


def print_banner(hall, cfg, extra) -> None:
    from .qr import qr_terminal

    svc = hall.service
    port = cfg["server"]["port"]
    base = hall.app.extensions["hall.base_url"]
    lines = [
        "",
        "=" * 64,
        f" hall 考场服务器  考点: {svc.meta.get('site_name')}（{svc.meta.get('site_no')}）"
        + ("  【演示数据】" if svc.meta.get("demo") == "1" else "")
        + ("  【模拟演练 · 不计成绩】" if svc.meta.get("rehearsal") == "1" else ""),
        f" 监考控制台（仅限本机打开）: http://127.0.0.1:{port}/console",
        f" 考生地址（考场WiFi）: {base}/",
    ]
    if extra:
        lines += extra
    print("\n".join(lines), flush=True)
    first = sorted(svc.sittings)[:1]
    for sid in first:
        s = svc.sitting_view(sid)
        url = hall.qr_url(sid)
        print(f"\n {s['room']} 第{s['sitting_no']}场 考场二维码（也可在控制台全屏显示）:\n{url}\n", flush=True)
        print(qr_terminal(url), flush=True)
        code = hall.app.extensions["hall.room_codes"].get(sid)
        if code and not cfg["security"]["qr_rotate_seconds"]:
            print(f" 无法扫码时: 手机浏览器输入 {base}/ ，再输入考场码 {code}", flush=True)
    print("=" * 64, flush=True)


def cmd_demo(args) -> int:
    cfg = _load_config(args)
    # The demo lives in var/demo unless told otherwise (--data-dir, or data_dir in --config).
    if not args.data_dir and not cfg.set_in_file("server", "data_dir"):
        args.data_dir = str(REPO / "var" / "demo")
        cfg = _load_config(args)
    if args.reset and cfg.db_path.exists():
        for suffix in ("", "-wal", "-shm"):
            Path(str(cfg.db_path) + suffix).unlink(missing_ok=True)
    if not cfg.db_path.exists():
        from .demo import build_demo_db

        sites = Path(args.sites) if args.sites else None   # default: the shipped site list (contracts/data)
        if sites is not None and not sites.exists():
            print(f"找不到考点名单 sites.csv（{sites}）：请检查 --sites 的路径", file=sys.stderr)
            return 2
        cfg.data_dir.mkdir(parents=True, exist_ok=True)
        summary = build_demo_db(cfg.db_path, sites, cfg["site"]["timezone"])
        print(f"已生成演示考点: {json.dumps(summary, ensure_ascii=False)}", flush=True)
    folder = cfg.db_path.parent
    roster = (folder / "demo-candidates.txt").read_text(encoding="utf-8").splitlines()
    extra = [" 登录: 主考 chief / demo-chief；第1考场监考 r01 / demo-r01（第二位 r01b / demo-r01b）；"
             "第2考场监考 r02 / demo-r02；巡考 patrol / demo-patrol",
             f" 演示考生（全部见 {folder / 'demo-candidates.txt'}）:",
             *("   " + line for line in roster[1:5]),          # the file's first line is its header
             f" 市定考办（中心）所需文件: {folder / 'centre'}（考点公钥、答案、名单，见 README）",
             f" 配置: {cfg.path or '（默认值）'}  数据: {folder}"]
    return cmd_serve(args, extra)


def cmd_rehearsal(args) -> int:
    from .rehearsal.cli import cmd_rehearsal as run

    return run(args, _load_config(args), cmd_serve)


def cmd_takeover(args) -> int:
    """The spare laptop: start from the newest verified copy in the replica folder, with the
    running sittings paused from the copy's time on (docs/takeover.md)."""
    cfg = _load_config(args)
    from .replica.store import ReplicaError
    from .replica.takeover import TakeoverRefused, prepare

    try:
        lines = prepare(cfg, args.source, replace=args.replace, ignore_address=args.ignore_address)
    except (TakeoverRefused, ReplicaError, OSError) as e:
        print(f"无法接管: {e}", file=sys.stderr)
        return 2
    if args.no_serve:     # e.g. to run it as the service afterwards: systemctl start hall
        print("\n".join(lines))
        return 0
    return cmd_serve(args, lines)


def cmd_import(args) -> int:
    """Import a signed site bundle (.hallbundle) or, for development, a plain JSON plan."""
    cfg = _load_config(args)
    from .importer import ImportError_, import_bundle, import_plan

    path = Path(args.plan)
    try:
        if path.suffix == ".json":
            from contracts.site_plan import load_plan

            plan = load_plan(path)
            summary = import_plan(cfg.db_path, plan, cfg["writer"]["synchronous"], rules=cfg["rules"])
        else:
            key = args.central_key or cfg["bundle"]["central_public_key"]
            if not key:
                print("需要市定考办公钥: --central-key 或配置 bundle.central_public_key", file=sys.stderr)
                return 2
            site_no = args.site_no or cfg["bundle"]["site_no"] or None
            activation = args.activation_code
            if activation is None and sys.stdin.isatty():
                activation = input("数据包激活码（账号单上；未加密的数据包直接回车）: ").strip() or None
            summary = import_bundle(cfg.db_path, path, Path(key), site_no, cfg["writer"]["synchronous"],
                                    activation, rules=cfg["rules"])
    except (OSError, ValueError, ImportError_) as e:
        print(f"导入失败（未导入任何数据）: {e}", file=sys.stderr)
        return 2
    print(f"已导入: {json.dumps(summary, ensure_ascii=False)}")
    return 0


def cmd_audit(args) -> int:
    cfg = _load_config(args)
    missing = _missing_db(cfg)
    if missing:
        print(missing, file=sys.stderr)
        return 2
    from .exam.audit import verify_file

    ok, bad, entries = verify_file(cfg.db_path)
    if ok:
        print(f"审计链完整: {entries} 条记录")
        return 0
    print(f"审计链在第 {bad} 条记录处断开（被篡改或缺失）", file=sys.stderr)
    return 1


def _missing_db(cfg) -> str | None:
    """A Chinese sentence when the configured database does not exist (else None): commands
    that read it must say where they looked and what to do, never show a traceback."""
    if cfg.db_path.exists():
        return None
    msg = f"找不到考点数据库 {cfg.db_path}。"
    demo = REPO / "var" / "demo" / "hall.db"
    if demo.exists() and demo.resolve() != cfg.db_path.resolve():
        msg += f"\n演示考点的数据在 {demo.parent}：请加 --data-dir {demo.parent}（例如 hall sync --data-dir {demo.parent} --export /media/usb）。"
    else:
        msg += "\n请先导入考点数据包（hall import），或用 --config / --data-dir 指定数据所在的文件夹。"
    return msg


def cmd_sync(args) -> int:
    """Export the signed result bundle; upload it when the centre is reachable. Every bundle
    is also kept in the outbox, so the console shows what left and its sha256."""
    cfg = _load_config(args)
    from .outbox import export_bundle, sync_now

    db = Path(args.db).resolve() if args.db else cfg.db_path
    missing = (None if db.exists() else f"找不到考点数据库 {db}。") if args.db else _missing_db(cfg)
    if missing:
        print(missing, file=sys.stderr)
        return 2
    outbox = db.parent / cfg["sync"]["outbox"]          # beside the database, as the console's
    url = args.url or cfg["sync"]["central_url"]
    if not args.export and not url:
        print("未配置市定考办地址（sync.central_url 或 --url）；无网络时请用 hall sync --export 导出到U盘",
              file=sys.stderr)
        return 2
    try:
        if args.export:
            dest, sha = export_bundle(db, outbox, args.sitting, copy_to=args.export)
            print(f"已导出成绩包: {dest}\n上传凭证: {dest}.sig（与成绩包放在一起，区县上传时使用）\n"
                  f"sha256: {sha}\n（请将 sha256 抄写在交接单上）")
            return 0
        result = sync_now(db, url, outbox)
    except (OSError, RuntimeError, ValueError) as e:
        print(f"无法导出成绩包（考点数据未改动）: {e}", file=sys.stderr)
        return 2
    if result.state == "accepted":
        print(f"市定考办已接收{'（此前已收到）' if result.duplicate else ''}：回执号 {result.receipt.get('receipt_no')}"
              f"\n成绩包: {result.path}\nsha256: {result.bundle_id}")
        return 0
    reason = result.reason or {}
    if result.state == "rejected":
        print(f"市定考办拒收: {reason.get('message')} [{reason.get('code')}]\n成绩包: {result.path}", file=sys.stderr)
        return 1
    print(f"暂时无法上传（{reason.get('message', '网络不通')}）。成绩包已保存: {result.path}\n"
          "稍后再运行 hall sync，或用 hall sync --export 导出到U盘交区县定考办。", file=sys.stderr)
    return 1


def cmd_staff(args) -> int:
    """Add a staff account or reset a password on the laptop (the bundle brings the rest)."""
    import getpass

    cfg = _load_config(args)
    from .auth.staff import StaffError, add_account, set_password

    missing = _missing_db(cfg)
    if missing:
        print(missing, file=sys.stderr)
        return 2
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass("密码: ")
    if len(password) < 8:
        print("密码至少 8 位", file=sys.stderr)
        return 2
    if args.action == "add" and args.role == "invigilator" and not args.room:
        print("监考账号必须指定考场 --room", file=sys.stderr)
        return 2
    try:
        if args.action == "add":
            add_account(cfg.db_path, args.username, args.name or args.username, password, args.role, args.room)
        else:
            set_password(cfg.db_path, args.username, password)
    except StaffError as e:
        print(e, file=sys.stderr)
        return 2
    print(f"已保存账号 {args.username}")
    return 0


def cmd_print(args) -> int:
    """A form as PDF, from the configured database (or --db)."""
    from .printing.cli import run_print

    db = Path(args.db) if args.db else _load_config(args).db_path
    return run_print(args, db)


def cmd_doctor(args) -> int:
    from .doctor import cmd_doctor as doctor

    return doctor(args, _load_config(args))


def cmd_install_service(args) -> int:
    from . import service_unit

    return service_unit.cmd_install(_config_path(args), _load_config(args), args.user, args.unit_dir, not args.no_start)


def cmd_uninstall_service(args) -> int:
    from . import service_unit

    return service_unit.cmd_uninstall(args.unit_dir)


def build_parser() -> argparse.ArgumentParser:
    """Every command of `hall`, each bound to its cmd_* function (set_defaults(fn=...))."""
    ap = argparse.ArgumentParser(prog="hall", description="考场服务器 hall")
    ap.add_argument("--config", help="TOML config file (see config.example.toml)")
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name, fn in (("serve", cmd_serve), ("demo", cmd_demo)):
        p = sub.add_parser(name)
        p.set_defaults(fn=fn)
        p.add_argument("--data-dir")
        p.add_argument("--port", type=int)
        p.add_argument("--host")
        if name == "demo":
            p.add_argument("--reset", action="store_true", help="rebuild the demo site from scratch")
            p.add_argument("--sites", help="sites.csv to take the demo site from (default: the repository's)")
    p = sub.add_parser("takeover", help="spare laptop: start from the replica folder (docs/takeover.md)")
    p.set_defaults(fn=cmd_takeover)
    p.add_argument("--from", dest="source", required=True, metavar="FOLDER", help="the replica folder ([replica] path)")
    p.add_argument("--replace", action="store_true", help="keep an existing database under another name and take over")
    p.add_argument("--ignore-address", action="store_true", help="serve on another address (every phone must rescan)")
    p.add_argument("--no-serve", action="store_true", help="prepare the database and exit (then start the service)")
    p.add_argument("--data-dir")
    p.add_argument("--port", type=int)
    p.add_argument("--host")
    p = sub.add_parser("rehearsal", help="模拟演练: practice sitting in its own database (docs/rehearsal.md)")
    p.set_defaults(fn=cmd_rehearsal)
    p.add_argument("action", choices=["start", "stop", "wipe"])
    p.add_argument("--port", type=int)
    p.add_argument("--host")
    p = sub.add_parser("import", help="import a signed site bundle (.hallbundle)")
    p.set_defaults(fn=cmd_import)
    p.add_argument("plan", help="the .hallbundle file (or a .json site plan for development)")
    p.add_argument("--central-key", help="the city office's public key file")
    p.add_argument("--site-no", help="refuse a bundle of another site")
    p.add_argument("--activation-code", help="the bundle's activation code (accounts sheet)")
    p.add_argument("--data-dir")
    p = sub.add_parser("audit")
    p.set_defaults(fn=cmd_audit)
    p.add_argument("action", choices=["verify"])
    p.add_argument("--data-dir")
    p = sub.add_parser("staff", help="add a staff account or set a password")
    p.set_defaults(fn=cmd_staff)
    p.add_argument("action", choices=["add", "passwd"])
    p.add_argument("username")
    p.add_argument("--role", choices=["chief", "invigilator", "patrol"], default="invigilator")
    p.add_argument("--room", help="room_id, for an invigilator")
    p.add_argument("--name", help="display name")
    p.add_argument("--password-stdin", action="store_true")
    p.add_argument("--data-dir")
    p = sub.add_parser("sync", help="export the signed result bundle and upload it to the centre")
    p.set_defaults(fn=cmd_sync)
    p.add_argument("--url", help="the centre's ingest URL (default: sync.central_url)")
    p.add_argument("--export", metavar="PATH", help="only write the bundle here (USB stick), print its sha256")
    p.add_argument("--sitting", help="with --export: only this sitting's bundle")
    p.add_argument("--db", help="the hall database (default: the configured data_dir's hall.db)")
    p.add_argument("--data-dir")
    p = sub.add_parser("print", help="打印考务表格: one form as PDF (docs/printing.md)")
    p.set_defaults(fn=cmd_print)
    from .printing.cli import add_print_arguments

    add_print_arguments(p)
    p.add_argument("--db", help="the hall database (default: the configured data_dir's hall.db)")
    p.add_argument("--data-dir")
    p = sub.add_parser("purge-photos", help="delete photo files the centre has confirmed, after proctor.purge_after_days")
    p.set_defaults(fn=cmd_purge_photos)
    p.add_argument("--days", type=float, help="days after the confirmed upload (default: proctor.purge_after_days)")
    p.add_argument("--dry-run", action="store_true", help="only count what would be deleted")
    p.add_argument("--data-dir")
    p = sub.add_parser("install-service", help="systemd service: start at boot, restart on failure (root)")
    p.set_defaults(fn=cmd_install_service)
    p.add_argument("--user", default="hall", help="the unprivileged system user that runs hall")
    p.add_argument("--unit-dir", help="where to write hall.service (default /etc/systemd/system)")
    p.add_argument("--no-start", action="store_true", help="enable at boot but do not start now")
    p = sub.add_parser("uninstall-service", help="stop and remove the systemd service (data is kept)")
    p.set_defaults(fn=cmd_uninstall_service)
    p.add_argument("--unit-dir")
    p = sub.add_parser("doctor", help="考前自检: one pass/fail line per check, exit 1 on a blocker")
    p.set_defaults(fn=cmd_doctor)
    p.add_argument("--json", action="store_true", help="the checks as JSON (the console uses it)")
    p.add_argument("--release-codes", metavar="FILE", help="放行码 sheet: check each code opens its sitting")
    p.add_argument("--server-pid", type=int, help=argparse.SUPPRESS)   # the running server asks about itself
    p.add_argument("--data-dir")
    p.add_argument("--port", type=int)
    p.add_argument("--host")
    for p in sub.choices.values():        # --config is also taken after the command
        p.add_argument("--config", dest="config_sub", help="TOML config file (see config.example.toml)")
    return ap


def main(argv: list[str] | None = None) -> int:
    args, rest = build_parser().parse_known_args(argv)
    if rest:
        print(f"无法识别的参数: {' '.join(rest)}（hall {args.cmd} --help 列出可用参数）", file=sys.stderr)
        return 2
    try:
        return args.fn(args)
    except config_mod.ConfigError as e:
        print(f"配置有误: {e}", file=sys.stderr)
        return 2


def cmd_purge_photos(args) -> int:
    """Photos are personal data: gone from the laptop once the centre has them (proctor/purge.py)."""
    from .proctor import purge

    cfg = _load_config(args)
    missing = _missing_db(cfg)
    if missing:
        print(missing, file=sys.stderr)
        return 2
    if purge.server_running(cfg):
        print("考场服务器正在运行：请先停止（sudo systemctl stop hall）再删除照片", file=sys.stderr)
        return 2
    r = purge.purge(cfg, days=args.days, dry_run=args.dry_run)
    verb = "将删除" if args.dry_run else "已删除"
    print(f"{verb} {r['files']} 个照片文件（{r['captures']} 次抓拍、{r['roster']} 张证件照）；"
          f"保留 {r['kept']} 次抓拍（市定考办尚未确认接收，或未满保留天数）")
    return 0


if __name__ == "__main__":
    sys.exit(main())
