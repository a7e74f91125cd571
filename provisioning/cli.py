"""python -m provisioning <command> … (see docs/provisioning.md)."""
from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from contracts.shipped import SITES_CSV

DEFAULT_SITES = str(SITES_CSV)      # the 343 sites hall ships (contracts/data)


def _sites(path):
    from .sites import load_sites
    return load_sites(path)


def cmd_keygen(a) -> int:
    from contracts.keys import keygen
    priv, pub = keygen(a.out, overwrite=a.force)
    print(f"市定考办签名私钥：{priv}（妥善保管，切勿拷到考点）\n市定考办公钥：{pub}（随考点软件分发）")
    return 0


def cmd_synth_roster(a) -> int:
    from .provision import synth_roster
    from .roster import write_roster
    sites = _sites(a.sites)
    if a.site:
        sites = [s for s in sites if s.site_no in set(a.site)]
    rows = synth_roster(sites, a.total, a.seed)
    write_roster(a.out, rows)
    print(f"已生成演示考生名单 {a.out}：{len(rows)}人，{len(sites)}个考点")
    return 0


def cmd_synth_bank(a) -> int:
    from .bankio import write_bank
    from .synth import demo_bank
    bank = demo_bank(a.seed, per_category=a.per_category)
    write_bank(a.out, bank)
    print(f"已生成【演示题】题库 {a.out}：{len(bank.items)}题，{len(bank.media)}张图片")
    return 0


def cmd_check(a) -> int:
    from .assemble import AssemblyError, Assembler
    from .bankio import BankError, load_bank
    from .roster import RosterError, load_roster
    ok = True
    if a.roster:
        try:
            roster = load_roster(a.roster, _sites(a.sites))
            per = Counter(c["category"] for c in roster.candidates)
            print(f"考生名单通过校验：{len(roster.candidates)}人，{len(roster.by_site())}个考点；" +
                  "，".join(f"{k}{v}人" for k, v in per.items()))
            for w in roster.warnings[:20]:
                print(f"  提示：{w}")
        except RosterError as e:
            print(e, file=sys.stderr)
            ok = False
    if a.bank:
        try:
            bank = load_bank(a.bank, a.images)
            print(f"题库通过校验：{len(bank.items)}题，{len(bank.media)}张图片")
            bp = _blueprint(a, bank)
            for cat in bp.cells:
                asm = Assembler(bank, bp, cat)
                print(f"  {cat}：题库{len(bank.by_category(cat))}题，每卷{asm.n}题，目标难度系数{asm.target:.3f}")
        except (BankError, AssemblyError) as e:
            print(e, file=sys.stderr)
            ok = False
    return 0 if ok else 1


def _blueprint(a, bank):
    from .assemble import auto_blueprint
    from contracts.exam import EXAM_DEFAULTS
    if getattr(a, "blueprint", None):
        from .assemble import load_blueprint
        return load_blueprint(a.blueprint)
    return auto_blueprint(bank, getattr(a, "questions", None) or EXAM_DEFAULTS["question_count"])


def _layout(a):
    from .allocate import Layout
    return Layout(rooms=a.rooms, capacity=a.capacity, sessions=tuple(a.sessions.split(",")),
                  max_rooms=a.max_rooms)


def cmd_build(a) -> int:
    from .bankio import load_bank
    from contracts.exam import EXAM_DEFAULTS
    from .provision import BuildOptions, provision_all
    from .roster import load_roster
    sites = _sites(a.sites)
    roster = load_roster(a.roster, sites)
    bank = load_bank(a.bank, a.images)
    exam = dict(EXAM_DEFAULTS)
    if a.questions:
        exam["question_count"] = a.questions
    bp = _blueprint(a, bank)
    if a.site:
        sites = [s for s in sites if s.site_no in set(a.site)]
    opts = BuildOptions(seed=a.seed, layout=_layout(a), exam=exam)
    res = provision_all(sites, roster.by_site(), bank, bp, a.key, a.out, opts,
                        workers=a.workers, progress=not a.quiet)
    s = res["summary"]
    print(f"完成：{s['sites']}个考点，{s['candidates']}名考生，{s['sittings']}个场次，用时{s['seconds']}秒；"
          f"数据包共{s['bytes_total'] / 1e6:.1f} MB（单个{s['bytes_min'] / 1e3:.0f}–{s['bytes_max'] / 1e3:.0f} KB）")
    print(f"输出目录：{a.out}（按区县分目录；site_keys.json 交同步服务；centre/ 留市定考办）")
    return 0


def cmd_verify(a) -> int:
    from contracts.site_bundle import BundleError, bundle_to_plan, open_sitting, read_bundle
    try:
        manifest, sealed = read_bundle(a.bundle, a.pub, a.site, a.activation)
        print(f"签名有效：考点{manifest['site_no']} {manifest['site_name']}（{manifest['district']}），"
              f"{manifest['candidate_count']}名考生，场次 {', '.join(manifest['sittings'])}")
        opened = {}
        for pair in a.code or []:
            sid, _, code = pair.partition("=")
            if sid not in sealed:
                raise BundleError(f"没有场次{sid}")
            opened[sid] = open_sitting(sealed[sid], code)
            print(f"场次{sid}放行码正确：{len(opened[sid]['papers'])}份试卷")
        if opened:
            plan = bundle_to_plan(manifest, opened)
            print(f"可导入的考点计划：{len(plan['papers'])}份试卷已放行")
    except BundleError as e:
        print(f"拒绝：{e}", file=sys.stderr)
        return 2
    return 0


def cmd_demo(a) -> int:
    """The demo plan of `make demo`, sealed as a real bundle: exercises the hall's import path."""
    from .demo import build_demo_plan
    from contracts.keys import CENTRAL_PRIVATE, CENTRAL_PUBLIC, keygen
    from .provision import write_sheets, seal_plan
    from .sites import Site
    out = Path(a.out)
    keys = out / "keys"
    if not (keys / CENTRAL_PRIVATE).exists():
        keygen(keys)
    plan = build_demo_plan(a.sites, seed=a.seed, rooms=a.rooms, candidates=a.candidates)
    site = Site(plan["site"]["site_no"], plan["site"]["district"], plan["site"]["name"],
                tuple(plan["site"]["exam_dates"]))
    path = out / f"demo_site_{site.site_no}.hallbundle"
    from contracts.site_bundle import new_release_code

    from .envelopes import add_seals

    activation = new_release_code()
    add_seals(plan)
    manifest, codes = seal_plan(plan, keys / CENTRAL_PRIVATE, path, activation_code=activation)
    write_sheets(path, site, plan, codes, {s["username"]: s["password"] for s in plan["staff"]}, activation)
    print(f"演示数据包：{path}（{path.stat().st_size / 1e3:.0f} KB），公钥：{keys / CENTRAL_PUBLIC}")
    print(f"  激活码 {activation}")
    for sid, code in codes.items():
        print(f"  {sid}  放行码 {code}")
    print(f"  放行码信封（每场次一页，含封条号）：{path.with_suffix('').name}_放行码信封.pdf")
    return 0


def cmd_demo_plan(a) -> int:
    """The plain demo plan as JSON (what `hall demo` imports): no seal, no sheets."""
    from contracts.site_plan import dump_plan

    from .demo import build_demo_plan
    plan = build_demo_plan(a.sites, seed=a.seed, rooms=a.rooms, candidates=a.candidates)
    print(dump_plan(plan, a.out))
    return 0


def cmd_practice_plan(a) -> int:
    """The rehearsal's plan (what `hall rehearsal` imports) for the rooms the hall sent."""
    import json

    from contracts.site_plan import dump_plan

    from .practice import practice_plan
    request = json.loads(Path(a.request).read_text(encoding="utf-8"))
    print(dump_plan(practice_plan(request), a.out))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Every command, each bound to its cmd_* function (set_defaults(fn=...))."""
    p = argparse.ArgumentParser(prog="python -m provisioning", description="市级考点数据包制作（医师定期考核）")
    sub = p.add_subparsers(dest="cmd", required=True)

    k = sub.add_parser("keygen", help="生成市定考办 Ed25519 签名密钥对")
    k.add_argument("--out", required=True)
    k.add_argument("--force", action="store_true")
    k.set_defaults(fn=cmd_keygen)

    r = sub.add_parser("synth-roster", help="按真实考点表生成合成考生名单（演示/压测）")
    r.add_argument("--sites", default=DEFAULT_SITES)
    r.add_argument("--total", type=int, default=25242)
    r.add_argument("--seed", type=int, default=2023)
    r.add_argument("--site", action="append", help="只生成这些考点（可重复）")
    r.add_argument("--out", required=True, help=".xlsx 或 .csv")
    r.set_defaults(fn=cmd_synth_roster)

    b = sub.add_parser("synth-bank", help="生成【演示题】题库（含图片目录）")
    b.add_argument("--seed", type=int, default=2023)
    b.add_argument("--per-category", type=int, default=320)
    b.add_argument("--out", required=True, help=".xlsx 或 .csv")
    b.set_defaults(fn=cmd_synth_bank)

    c = sub.add_parser("check", help="校验考生名单和/或题库，不生成任何文件")
    c.add_argument("--sites", default=DEFAULT_SITES)
    c.add_argument("--roster")
    c.add_argument("--bank")
    c.add_argument("--images")
    c.add_argument("--blueprint")
    c.add_argument("--questions", type=int)
    c.set_defaults(fn=cmd_check)

    d = sub.add_parser("build", help="生成各考点签名加密数据包、放行码表和账号表")
    d.add_argument("--sites", default=DEFAULT_SITES)
    d.add_argument("--roster", required=True)
    d.add_argument("--bank", required=True)
    d.add_argument("--images", help="题目图片目录（默认：题库旁的 <题库名>_images/ 或 images/）")
    d.add_argument("--blueprint", help="组卷蓝图 JSON（默认按题库比例自动生成）")
    d.add_argument("--questions", type=int, help="每卷题数（默认100）")
    d.add_argument("--key", required=True, help="市定考办私钥文件（keygen 生成）")
    d.add_argument("--out", required=True)
    d.add_argument("--seed", type=int, default=2023)
    d.add_argument("--site", action="append", help="只生成这些考点编号（可重复）")
    d.add_argument("--rooms", type=int, help="每考点考场数（默认按人数自动）")
    d.add_argument("--max-rooms", type=int, default=8)
    d.add_argument("--capacity", type=int, default=30, help="每考场座位数")
    d.add_argument("--sessions", default="09:00,10:40,14:30,16:10", help="每天各场次开考时间")
    d.add_argument("--workers", type=int, default=1)
    d.add_argument("--quiet", action="store_true")
    d.set_defaults(fn=cmd_build)

    v = sub.add_parser("verify", help="校验数据包（考点导入前的同一检查），可试用放行码")
    v.add_argument("bundle")
    v.add_argument("--pub", required=True, help="市定考办公钥文件")
    v.add_argument("--site", help="本考点编号：数据包属于别的考点则拒绝")
    v.add_argument("--code", action="append", help="场次=放行码，如 D1S1-R01=ABCD-EFGH-JKMN")
    v.add_argument("--activation", help="数据包激活码（账号单上）：加密的数据包需要它才能读取考生名单")
    v.set_defaults(fn=cmd_verify)

    m = sub.add_parser("demo", help="把演示考点计划（make demo 同款）封装成真实数据包，便于联调导入")
    m.add_argument("--sites", default=DEFAULT_SITES)
    m.add_argument("--seed", type=int, default=2023)
    m.add_argument("--rooms", type=int, default=2)
    m.add_argument("--candidates", type=int, default=60)
    m.add_argument("--out", required=True)
    m.set_defaults(fn=cmd_demo)

    j = sub.add_parser("demo-plan", help="演示考点计划（未封装的 JSON，hall demo 导入它）")
    j.add_argument("--sites", default=DEFAULT_SITES)
    j.add_argument("--seed", type=int, default=2023)
    j.add_argument("--rooms", type=int, default=2)
    j.add_argument("--candidates", type=int, default=60)
    j.add_argument("--out", required=True, help="the plan's JSON file")
    j.set_defaults(fn=cmd_demo_plan)

    pp = sub.add_parser("practice-plan", help="模拟演练计划（hall rehearsal 调用：本考点考场名单 + 演练题）")
    pp.add_argument("--request", required=True, help="JSON the hall wrote: meta, rooms, roster, staff, rules")
    pp.add_argument("--out", required=True, help="the plan's JSON file")
    pp.set_defaults(fn=cmd_practice_plan)
    return p


def main(argv: list[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    try:
        return a.fn(a)
    except (ValueError, FileNotFoundError, FileExistsError) as e:
        print(f"错误：{e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
