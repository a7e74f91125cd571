"""`make demo`: a complete, clearly synthetic site plan for the first real site."""
from __future__ import annotations

import random
from pathlib import Path

from contracts.exam import EXAM_DEFAULTS
from contracts.keys import site_keypair

from .allocate import Layout, allocate
from .assemble import assemble_papers, auto_blueprint
from .plan import build_plan, staff_for, staff_usernames
from .sites import load_sites
from .synth import demo_bank, make_candidates


def build_demo_plan(sites_csv: Path | str | None = None, seed: int = 2023, rooms: int = 2, candidates: int = 60) -> dict:
    """Site plan (docs/site-plan.md) for the first site in ``sites_csv`` (default: the shipped
    site list, contracts/data/sites.csv), demo data only.

    ``rooms`` rooms 第1考场..; one sitting per room on the site's first exam date at 09:00+08:00;
    ``candidates`` synthetic candidates over all 4 categories and both levels; papers of
    EXAM_DEFAULTS["question_count"] questions from a 【演示题】 bank. Deterministic for ``seed``.
    """
    all_sites = load_sites(sites_csv)
    site = all_sites[0]
    rng = random.Random(f"demo:{seed}:{site.site_no}")
    cands = make_candidates(site, candidates, rng, all_sites,
                            ticket_prefix=f"2023{int(site.site_no):03d}9")
    capacity = max(1, -(-candidates // rooms))
    layout = Layout(rooms=rooms, capacity=capacity, sessions=("09:00",))
    # one sitting per room on day 1: restrict to the first date
    first_day = type(site)(site.site_no, site.district, site.name, site.exam_dates[:1])
    room_list, sittings = allocate(first_day, cands, layout)
    bank = demo_bank(seed)
    qn = EXAM_DEFAULTS["question_count"]
    blueprint = auto_blueprint(bank, qn)
    papers, keys, _ = assemble_papers(bank, blueprint, cands, seed)
    passwords = {u: f"demo-{u}" for u in staff_usernames(room_list)}
    return build_plan(site=site.as_plan(), rooms=room_list, sittings=sittings, candidates=cands,
                      papers=papers, keys=keys, media=bank.media,
                      staff=staff_for(room_list, passwords),
                      site_key=site_keypair(f"demo:{seed}".encode()), demo=True)


if __name__ == "__main__":          # quick look: python -m provisioning.demo
    import json
    import sys
    import time
    t = time.perf_counter()
    p = build_demo_plan(sys.argv[1] if len(sys.argv) > 1 else None)
    dt = time.perf_counter() - t
    print(json.dumps({k: v for k, v in p.items() if k not in ("papers", "keys", "media")},
                     ensure_ascii=False, indent=1)[:3000])
    print(f"{len(p['papers'])} papers, {len(p['media'])} images, {dt:.2f}s", file=sys.stderr)
