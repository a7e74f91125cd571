"""The central run: roster + bank + sites -> one signed bundle per site, code sheets, site keys."""
from __future__ import annotations

import csv
import datetime as _dt
import json
import multiprocessing
import random
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from contracts.exam import EXAM_DEFAULTS
from contracts.keys import load_private, site_keypair
from contracts.site_bundle import KDF_DEFAULT, new_release_code, seal_sitting, write_bundle

from .allocate import Layout, allocate
from .assemble import Blueprint, assemble_papers, auto_blueprint, sub_seed
from .envelopes import add_seals, envelope_sheet
from .model import Bank
from .plan import build_plan, staff_for, staff_usernames
from .sites import Site
from .synth import make_candidates

PASSWORD_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"


class Progress:
    """A plain progress bar on stderr (no tqdm)."""

    def __init__(self, total: int, label: str = "", stream=None, enabled: bool = True):
        self.total, self.label, self.n = total, label, 0
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.t0 = time.perf_counter()
        self._last = -1.0

    def update(self, k: int = 1, note: str = "") -> None:
        self.n += k
        now = time.perf_counter()
        if not self.enabled or (now - self._last < 0.2 and self.n < self.total):
            return
        self._last = now
        frac = self.n / self.total if self.total else 1
        bar = "#" * int(30 * frac) + "-" * (30 - int(30 * frac))
        el = now - self.t0
        eta = el / frac - el if frac else 0
        self.stream.write(f"\r{self.label} [{bar}] {self.n}/{self.total} {el:5.1f}s 剩余约{eta:4.0f}s {note[:20]:20}")
        if self.n >= self.total:
            self.stream.write("\n")
        self.stream.flush()


@dataclass
class BuildOptions:
    seed: int = 2023
    layout: Layout = field(default_factory=Layout)
    exam: dict = field(default_factory=lambda: dict(EXAM_DEFAULTS))
    kdf: dict = field(default_factory=lambda: dict(KDF_DEFAULT))
    demo: bool = False
    site_key_seed: bytes | None = None        # deterministic site keys: tests/demo only


def _password() -> str:
    import secrets
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(10))


def prepare_site(site: Site, candidates: list[dict], bank: Bank, blueprint: Blueprint,
                 opts: BuildOptions) -> dict:
    """The deterministic part for one site: allocation and papers (a full site plan without
    secrets) plus the centre's item map."""
    cands = [dict(c) for c in candidates]
    rooms, sittings = allocate(site, cands, opts.layout)
    papers, keys, item_ids = assemble_papers(bank, blueprint, cands, sub_seed(opts.seed, site.site_no))
    return {"rooms": rooms, "sittings": sittings, "candidates": cands, "papers": papers,
            "keys": keys, "item_ids": item_ids}


def build_site_bundle(site: Site, candidates: list[dict], bank: Bank, blueprint: Blueprint,
                      central_private_key, out_dir: str | Path, opts: BuildOptions | None = None) -> dict:
    """Build, seal and sign one site's bundle; write its code and account sheets.

    Returns a summary: site_no, bundle path and size, release codes per sitting, staff
    passwords, site public key, candidate and sitting counts.
    """
    opts = opts or BuildOptions()
    out_dir = Path(out_dir)
    prep = prepare_site(site, candidates, bank, blueprint, opts)
    site_key = site_keypair(opts.site_key_seed + site.site_no.encode() if opts.site_key_seed else None)
    passwords = {u: _password() for u in staff_usernames(prep["rooms"])}
    plan = build_plan(site=site.as_plan(), rooms=prep["rooms"], sittings=prep["sittings"],
                      candidates=prep["candidates"], papers=prep["papers"], keys=prep["keys"],
                      media=bank.media, staff=staff_for(prep["rooms"], passwords),
                      site_key=site_key, exam=opts.exam, demo=opts.demo)
    district_dir = out_dir / site.district
    path = district_dir / (f"site_{int(site.site_no):03d}.hallbundle" if site.site_no.isdigit()
                           else f"site_{site.site_no}.hallbundle")
    activation = new_release_code()
    add_seals(plan)  # every sitting's 放行码信封 seal number travels in the signed plan
    manifest, codes = seal_plan(plan, central_private_key, path, kdf=opts.kdf, extra={"seed": opts.seed},
                                activation_code=activation)
    bundle_id = manifest["bundle_id"]
    write_sheets(path, site, plan, codes, passwords, activation)
    centre = out_dir / "centre" / "papers"
    centre.mkdir(parents=True, exist_ok=True)
    (centre / f"{path.stem}.json").write_text(json.dumps(
        {"site_no": site.site_no, "bundle_id": bundle_id, "seed": opts.seed,
         "items": prep["item_ids"], "keys": prep["keys"]}, ensure_ascii=False))
    return {"site_no": site.site_no, "district": site.district, "name": site.name,
            "bundle": str(path), "bytes": path.stat().st_size, "bundle_id": bundle_id,
            "candidates": len(plan["candidates"]), "sittings": len(plan["sittings"]),
            "rooms": len(plan["rooms"]), "release_codes": codes, "passwords": passwords,
            "activation_code": activation,
            "site_public_key": site_key["public"],
            "sitting_times": {s["sitting_id"]: s["planned_start"] for s in plan["sittings"]},
            "seals": {s["sitting_id"]: s.get("envelope_seal", "") for s in plan["sittings"]}}


def seal_plan(plan: dict, central_private_key, path: str | Path, kdf: dict | None = None,
              extra: dict | None = None, activation_code: str | None = None) -> tuple[dict, dict[str, str]]:
    """Write any site plan (docs/site-plan.md) as a signed bundle with papers sealed per
    sitting under fresh release codes. Returns (manifest, {sitting_id: release code})."""
    public_plan = {k: v for k, v in plan.items() if k not in ("papers", "keys", "media")}
    # The bundle is signed, not encrypted: staff passwords travel only as scrypt hashes;
    # the plain text goes on the accounts sheet handed to the chief examiner.
    from contracts.passwords import hash_password

    public_plan["staff"] = [{k: v for k, v in s.items() if k != "password"}
                            | {"password_hash": s.get("password_hash") or hash_password(s["password"])}
                            for s in plan["staff"]]
    bundle_id = uuid.uuid4().hex
    site_no = plan["site"]["site_no"]
    codes, sealed = {}, []
    sitting_of = {c["ticket"]: c["sitting_id"] for c in plan["candidates"]}
    for s in plan["sittings"]:
        sid = s["sitting_id"]
        tickets = sorted(t for t, x in sitting_of.items() if x == sid)
        papers = {t: plan["papers"][t] for t in tickets}
        media_names = {q["image"] for p in papers.values() for q in p["questions"] if q.get("image")}
        content = {"papers": papers, "keys": {t: plan["keys"][t] for t in tickets},
                   "media": {m: plan["media"][m] for m in sorted(media_names)}}
        codes[sid] = new_release_code()
        sealed.append(seal_sitting(content, codes[sid], bundle_id=bundle_id, site_no=site_no,
                                   sitting_id=sid, kdf=kdf or KDF_DEFAULT))
    created = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    manifest = write_bundle(path, public_plan=public_plan, sealed=sealed, bundle_id=bundle_id,
                            central_private_key=central_private_key, created_at=created, extra=extra,
                            activation_code=activation_code, kdf=kdf)
    return manifest, codes


def write_sheets(bundle_path: Path, site: Site, plan: dict, codes: dict, passwords: dict,
                  activation: str | None = None) -> None:
    """Printable sheets for the county office: release codes (hand out at sitting start
    only), the sealed envelopes of the same codes (opened at the site only when the office
    cannot be reached; provisioning/envelopes.py) and the site's initial accounts (hand out
    with the bundle)."""
    stem = bundle_path.with_suffix("")
    room_name = {r["room_id"]: r["name"] for r in plan["rooms"]}
    lines = [f"考点放行码（机密，开考时由区县定考办告知主考） 考点{site.site_no} {site.name}（{site.district}）",
             f"数据包：{bundle_path.name}", "", f"{'场次':<12}{'考场':<8}{'开考时间':<28}{'放行码':<16}信封封条号"]
    for s in plan["sittings"]:
        lines.append(f"{s['sitting_id']:<12}{room_name[s['room_id']]:<8}{s['planned_start']:<28}"
                     f"{codes[s['sitting_id']]:<16}{s.get('envelope_seal', '')}")
    stem.with_name(stem.name + "_放行码.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    if all(s.get("envelope_seal") for s in plan["sittings"]):
        stem.with_name(stem.name + "_放行码信封.pdf").write_bytes(
            envelope_sheet(site.site_no, site.name, site.district, plan, codes, demo=bool(plan.get("demo"))))
    acc = [f"考点初始账号（随数据包交主考，首次登录后请修改密码） 考点{site.site_no} {site.name}", ""]
    if activation:
        acc += [f"数据包激活码（导入数据包时输入；请勿与数据包存放在同一U盘）：{activation}", ""]
    acc += [f"{'用户名':<10}{'角色':<16}密码"]
    for st in plan["staff"]:
        acc.append(f"{st['username']:<10}{st['display_name']:<16}{passwords[st['username']]}")
    stem.with_name(stem.name + "_账号.txt").write_text("\n".join(acc) + "\n", encoding="utf-8")


# ---------------------------------------------------------------- whole city

_G: dict = {}


def _work(args):
    site, cands = args
    return build_site_bundle(site, cands, _G["bank"], _G["blueprint"], _G["key"], _G["out"], _G["opts"])


def provision_all(sites: list[Site], by_site: dict[str, list[dict]], bank: Bank,
                  blueprint: Blueprint | None, central_private_key, out_dir: str | Path,
                  opts: BuildOptions | None = None, workers: int = 1, progress: bool = True) -> dict:
    """Bundles for every site that has candidates; writes site_keys.json and a summary."""
    opts = opts or BuildOptions()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    blueprint = blueprint or auto_blueprint(bank, opts.exam["question_count"])
    key = load_private(central_private_key)
    jobs = [(s, by_site[s.site_no]) for s in sites if by_site.get(s.site_no)]
    precheck(jobs, bank, blueprint, opts)
    bar = Progress(len(jobs), "生成考点数据包", enabled=progress)
    t0 = time.perf_counter()
    results = []
    if workers > 1:
        _G.update(bank=bank, blueprint=blueprint, key=key, out=out_dir, opts=opts)
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(workers) as pool:
            for r in pool.imap_unordered(_work, jobs, chunksize=1):
                results.append(r)
                bar.update(1, r["name"])
    else:
        for site, cands in jobs:
            results.append(build_site_bundle(site, cands, bank, blueprint, key, out_dir, opts))
            bar.update(1, site.name)
    elapsed = time.perf_counter() - t0
    results.sort(key=lambda r: (int(r["site_no"]) if r["site_no"].isdigit() else 10 ** 9, r["site_no"]))
    (out_dir / "site_keys.json").write_text(json.dumps(
        {r["site_no"]: {"public": r["site_public_key"], "bundle_id": r["bundle_id"], "name": r["name"]}
         for r in results}, ensure_ascii=False, indent=1), encoding="utf-8")
    centre = out_dir / "centre"
    centre.mkdir(exist_ok=True)
    with open(centre / "release_codes.csv", "w", newline="", encoding="utf-8-sig") as f:
        w = csv.writer(f)
        w.writerow(["考点编号", "区县", "考点名称", "场次", "开考时间", "放行码", "信封封条号"])
        for r in results:
            w.writerow([r["site_no"], r["district"], r["name"], "激活码", "", r["activation_code"], ""])
            for sid, code in r["release_codes"].items():
                w.writerow([r["site_no"], r["district"], r["name"], sid, r["sitting_times"][sid], code,
                            r["seals"].get(sid, "")])
    (centre / "blueprint.json").write_text(json.dumps(blueprint.to_json(), ensure_ascii=False, indent=1),
                                           encoding="utf-8")
    sizes = [r["bytes"] for r in results]
    summary = {"sites": len(results), "candidates": sum(r["candidates"] for r in results),
               "sittings": sum(r["sittings"] for r in results), "seconds": round(elapsed, 2),
               "bytes_total": sum(sizes), "bytes_min": min(sizes, default=0),
               "bytes_max": max(sizes, default=0),
               "bytes_mean": round(sum(sizes) / len(sizes)) if sizes else 0}
    (centre / "summary.json").write_text(json.dumps(
        {"summary": summary, "sites": [{k: v for k, v in r.items() if k not in ("release_codes", "passwords", "activation_code", "seals")}
                                       for r in results]}, ensure_ascii=False, indent=1), encoding="utf-8")
    return {"summary": summary, "results": results}


def precheck(jobs: list[tuple[Site, list[dict]]], bank: Bank, blueprint: Blueprint,
             opts: BuildOptions) -> None:
    """Fail before writing anything: every site allocates, every category can be assembled."""
    from .assemble import Assembler
    cats = {c["category"] for _, cands in jobs for c in cands}
    for cat in sorted(cats):
        Assembler(bank, blueprint, cat)
    problems = []
    for site, cands in jobs:
        try:
            allocate(site, [dict(c) for c in cands], opts.layout)
        except ValueError as e:
            problems.append(str(e))
    if problems:
        raise ValueError("分配考场失败，未生成任何数据包：\n" + "\n".join(problems[:50]))


def synth_roster(sites: list[Site], total: int = 25242, seed: int = 2023) -> list[dict]:
    """A synthetic city roster of ``total`` candidates over the real sites (uneven sizes)."""
    rng = random.Random(f"synth-roster:{seed}")
    weights = [len(s.exam_dates) * rng.lognormvariate(0, 0.45) for s in sites]
    scale = total / sum(weights)
    sizes = [max(1, int(w * scale)) for w in weights]
    i = 0
    while sum(sizes) != total:
        k = i % len(sites)
        if sum(sizes) < total:
            sizes[k] += 1
        elif sizes[k] > 1:
            sizes[k] -= 1
        i += 1
    out: list[dict] = []
    used_ids: set[str] = set()
    for s, n in zip(sites, sizes):
        srng = random.Random(sub_seed("synth-site", seed, s.site_no))
        prefix = f"2023{int(s.site_no):03d}" if s.site_no.isdigit() else "2023000"
        out.extend(make_candidates(s, n, srng, sites, ticket_prefix=prefix, cover_all=False,
                                   used_ids=used_ids))
    return out
