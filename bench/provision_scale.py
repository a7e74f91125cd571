"""Scale run of central provisioning: all 343 real sites, a synthetic roster of 25,242.

    .venv/bin/python bench/provision_scale.py [--workers 2] [--out /tmp/hall-scale] [--verify]

Prints time and bundle sizes. Uses the 【演示题】 bank and a fresh central key (demo only).
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from provisioning.assemble import auto_blueprint  # noqa: E402
from contracts.site_bundle import bundle_to_plan, open_sitting, read_bundle  # noqa: E402
from contracts.keys import keygen  # noqa: E402
from provisioning.provision import BuildOptions, provision_all, synth_roster  # noqa: E402
from provisioning.roster import validate_rows  # noqa: E402
from provisioning.sites import load_sites  # noqa: E402
from provisioning.synth import demo_bank  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sites", default=None, help="sites.csv (default: the shipped contracts/data/sites.csv)")
    ap.add_argument("--total", type=int, default=25242)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--per-category", type=int, default=600)
    ap.add_argument("--out")
    ap.add_argument("--verify", action="store_true", help="also verify every bundle and open every sitting")
    a = ap.parse_args()
    out = Path(a.out or tempfile.mkdtemp(prefix="hall-scale-"))
    if (out / "bundles").exists():
        shutil.rmtree(out / "bundles")          # stale bundles would pollute the figures
    sites = load_sites(a.sites)
    t = time.perf_counter()
    roster = synth_roster(sites, a.total)
    t_roster = time.perf_counter() - t
    t = time.perf_counter()
    validate_rows(list(enumerate(roster, start=2)), sites)       # the import checks, at scale
    t_validate = time.perf_counter() - t
    by_site = defaultdict(list)
    for c in roster:
        by_site[c["site"]].append(c)
    bank = demo_bank(per_category=a.per_category)
    bp = auto_blueprint(bank, 100)
    priv, pub = keygen(out / "keys", overwrite=True)
    res = provision_all(sites, by_site, bank, bp, priv, out / "bundles", BuildOptions(), workers=a.workers)
    s = res["summary"]
    sizes = sorted(r["bytes"] for r in res["results"])
    print(f"sites {s['sites']}  candidates {s['candidates']}  sittings {s['sittings']}")
    print(f"synthetic roster {t_roster:.1f}s, roster validation {t_validate:.1f}s, "
          f"bundles {s['seconds']:.1f}s with {a.workers} worker(s)")
    print(f"bundle sizes: total {s['bytes_total'] / 1e6:.1f} MB, min {sizes[0] / 1e3:.0f} KB, "
          f"median {sizes[len(sizes) // 2] / 1e3:.0f} KB, max {sizes[-1] / 1e3:.0f} KB, "
          f"per candidate {s['bytes_total'] / s['candidates'] / 1e3:.1f} KB")
    # equal difficulty across the whole city, per category (from the centre's item maps)
    import json
    diff = {i.item_id: (i.category, i.difficulty) for i in bank.items}
    means: dict[str, list[float]] = defaultdict(list)
    for f in (out / "bundles" / "centre" / "papers").glob("*.json"):
        for ids in json.loads(f.read_text())["items"].values():
            means[diff[ids[0]][0]].append(sum(diff[x][1] for x in ids) / len(ids))
    for cat, ms in sorted(means.items()):
        print(f"  {cat}: {len(ms)} papers, mean 难度系数 {min(ms):.4f} – {max(ms):.4f} "
              f"(spread {max(ms) - min(ms):.4f})")
    if a.verify:
        t = time.perf_counter()
        for r in res["results"]:
            m, sealed = read_bundle(r["bundle"], pub, expected_site_no=r["site_no"])
            opened = {sid: open_sitting(e, r["release_codes"][sid]) for sid, e in sealed.items()}
            plan = bundle_to_plan(m, opened)
            assert len(plan["papers"]) == r["candidates"]
        print(f"verified and opened all bundles in {time.perf_counter() - t:.1f}s")
    print(f"output: {out}")


if __name__ == "__main__":
    main()
