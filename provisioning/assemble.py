"""Paper assembly: blueprint, equal difficulty, shuffled questions and options.

Every paper of a category
- takes exactly the blueprint's number of items from each (知识点, 难度档) cell;
- has a mean 难度系数 within ``TOLERANCE`` of the category's target (the blueprint-weighted
  mean of the bank's cells), so any two papers of a category differ by at most 2 x TOLERANCE;
- has its questions and (non-pinned) options shuffled, seeded per candidate: reproducible
  for a seed and independent of processing order.
Within one room no two candidates get the same paper order (checked, re-drawn if needed).
"""
from __future__ import annotations

import hashlib
import random
from collections import defaultdict
from dataclasses import dataclass

from .model import BAND_NAMES, OPTION_KEYS, Bank, Item

TOLERANCE = 0.005   # |mean difficulty of a paper - category target| <= TOLERANCE


class AssemblyError(ValueError):
    pass


Cell = tuple[str, str]          # (topic, band)


@dataclass
class Blueprint:
    """Per category: {(topic, band): count}."""
    cells: dict[str, dict[Cell, int]]

    def count(self, category: str) -> int:
        return sum(self.cells[category].values())

    def to_json(self) -> dict:
        return {cat: [{"知识点": t, "难度档": b, "题数": n} for (t, b), n in sorted(cells.items())]
                for cat, cells in self.cells.items()}

    @classmethod
    def from_json(cls, data: dict) -> "Blueprint":
        cells: dict[str, dict[Cell, int]] = {}
        for cat, rows in data.items():
            cells[cat] = {}
            for r in rows:
                if r["难度档"] not in BAND_NAMES:
                    raise AssemblyError(f"{cat}: 未知难度档 {r['难度档']}（应为 {'/'.join(BAND_NAMES)}）")
                cells[cat][(r["知识点"], r["难度档"])] = int(r["题数"])
        return cls(cells)


def load_blueprint(path) -> Blueprint:
    """A blueprint from JSON ({category: [{知识点, 难度档, 题数}]}) or a sheet (.xlsx/.csv) with
    columns 类别, 知识点, 难度档, 题数."""
    import json
    from pathlib import Path
    path = Path(path)
    if path.suffix.lower() == ".json":
        return Blueprint.from_json(json.loads(path.read_text(encoding="utf-8")))
    from .tables import read_table
    _, rows = read_table(path, "题数")
    data: dict[str, list[dict]] = {}
    for n, r in rows:
        try:
            data.setdefault(r["类别"], []).append(
                {"知识点": r["知识点"], "难度档": r["难度档"], "题数": int(r["题数"])})
        except (KeyError, ValueError) as e:
            raise AssemblyError(f"组卷蓝图第{n}行无效（需要 类别、知识点、难度档、题数）") from e
    return Blueprint.from_json(data)


def sub_seed(*parts: object) -> int:
    h = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(h[:8], "big")


def _cells(items: list[Item]) -> dict[Cell, list[Item]]:
    cells: dict[Cell, list[Item]] = defaultdict(list)
    for it in items:
        cells[(it.topic, it.band)].append(it)
    for lst in cells.values():
        lst.sort(key=lambda i: i.item_id)
    return dict(cells)


def auto_blueprint(bank: Bank, question_count: int, categories: list[str] | None = None,
                   max_share: float = 0.5) -> Blueprint:
    """Spread ``question_count`` over (topic, band) cells in proportion to the bank, using at
    most ``max_share`` of any cell where the bank allows it (so papers really differ)."""
    out: dict[str, dict[Cell, int]] = {}
    cats = categories or sorted({i.category for i in bank.items})
    for cat in cats:
        cells = _cells(bank.by_category(cat))
        total = sum(len(v) for v in cells.values())
        if total < question_count:
            raise AssemblyError(f"{cat}: 题库仅{total}题，不足一套试卷所需的{question_count}题")
        share = max(max_share, question_count / total)
        caps = {c: max(0, int(len(v) * share)) for c, v in cells.items()}
        if sum(caps.values()) < question_count:
            caps = {c: len(v) for c, v in cells.items()}
        quota = {c: question_count * len(v) / total for c, v in cells.items()}
        alloc = {c: min(int(q), caps[c]) for c, q in quota.items()}
        # largest remainder, respecting caps
        while sum(alloc.values()) < question_count:
            c = max((c for c in alloc if alloc[c] < caps[c]),
                    key=lambda c: (quota[c] - alloc[c], c))
            alloc[c] += 1
        out[cat] = {c: n for c, n in sorted(alloc.items()) if n > 0}
    return Blueprint(out)


class Assembler:
    """Assembles papers for one category from a bank and blueprint."""

    def __init__(self, bank: Bank, blueprint: Blueprint, category: str,
                 tolerance: float = TOLERANCE):
        self.category = category
        self.tolerance = tolerance
        self.plan = blueprint.cells.get(category)
        if not self.plan:
            raise AssemblyError(f"组卷蓝图中没有类别“{category}”")
        cells = _cells(bank.by_category(category))
        for cell, n in self.plan.items():
            have = len(cells.get(cell, []))
            if have < n:
                raise AssemblyError(f"{category}: 知识点“{cell[0]}”难度档“{cell[1]}”需要{n}题，题库只有{have}题")
        self.cells = {c: cells[c] for c in self.plan}
        self.n = sum(self.plan.values())
        self.target = sum(n * sum(i.difficulty for i in self.cells[c]) / len(self.cells[c])
                          for c, n in self.plan.items()) / self.n

    def select(self, rng: random.Random) -> list[Item]:
        chosen: list[tuple[Cell, Item]] = []
        for cell, n in self.plan.items():
            chosen.extend((cell, it) for it in rng.sample(self.cells[cell], n))
        tol_sum = self.tolerance * self.n
        diff = sum(it.difficulty for _, it in chosen) - self.target * self.n
        guard = 0
        while abs(diff) > tol_sum - 1e-9:
            guard += 1
            if guard > 10000:
                raise AssemblyError(f"{self.category}: 无法在容差{self.tolerance}内组出等难度试卷")
            in_paper = {it.item_id for _, it in chosen}
            order = list(range(len(chosen)))
            rng.shuffle(order)
            improved = False
            for idx in order:
                cell, out_it = chosen[idx]
                options = [u for u in self.cells[cell] if u.item_id not in in_paper
                           and abs(diff - out_it.difficulty + u.difficulty) < abs(diff) - 1e-12]
                if options:
                    # best of a few random candidates: converge fast, stay random
                    pick = min(rng.sample(options, min(3, len(options))),
                               key=lambda u: abs(diff - out_it.difficulty + u.difficulty))
                    diff += pick.difficulty - out_it.difficulty
                    chosen[idx] = (cell, pick)
                    improved = True
                    break
            if not improved:
                raise AssemblyError(f"{self.category}: 题库难度分布无法满足容差{self.tolerance}")
        return [it for _, it in chosen]

    def paper(self, rng: random.Random) -> tuple[list[Item], list[tuple[int, ...]]]:
        """Items in paper order and, per item, the permutation of its options."""
        items = self.select(rng)
        rng.shuffle(items)
        items = keep_groups_together(items)
        perms = [shuffle_options(it, rng) for it in items]
        return items, perms


def keep_groups_together(items: list[Item]) -> list[Item]:
    """Items of one A3/A4 group (shared case stem) follow each other, in the group's own
    order, where its first drawn member landed; everything else keeps its shuffled place."""
    groups: dict[str, list[Item]] = defaultdict(list)
    for it in items:
        if it.group:
            groups[it.group].append(it)
    out, placed = [], set()
    for it in items:
        if not it.group:
            out.append(it)
        elif it.group not in placed:
            placed.add(it.group)
            out.extend(sorted(groups[it.group], key=lambda i: i.item_id))
    return out


_PINNED_PREFIXES = ("以上", "上述", "全部", "都不", "均不")


def shuffle_options(item: Item, rng: random.Random) -> tuple[int, ...]:
    """A permutation of option indices; options such as “以上都是” keep their place."""
    idx = list(range(len(item.options)))
    free = [i for i in idx if not item.options[i].startswith(_PINNED_PREFIXES)]
    shuffled = free[:]
    rng.shuffle(shuffled)
    perm = idx[:]
    for pos, src in zip(free, shuffled):
        perm[pos] = src
    return tuple(perm)


def render(items: list[Item], perms: list[tuple[int, ...]]) -> tuple[dict, list[str]]:
    """(what the phone sees, the key) in docs/site-plan.md format."""
    questions, key = [], []
    for no, (it, perm) in enumerate(zip(items, perms), start=1):
        opts = [{"key": OPTION_KEYS[pos], "text": it.options[src]} for pos, src in enumerate(perm)]
        correct_src = OPTION_KEYS.index(it.answer)
        key.append(OPTION_KEYS[perm.index(correct_src)])
        questions.append({"no": no, "stem": it.stem, "image": it.image, "options": opts})
    return {"questions": questions}, key


def fingerprint(items: list[Item], perms: list[tuple[int, ...]]) -> str:
    h = hashlib.sha256()
    for it, p in zip(items, perms):
        h.update(f"{it.item_id}:{','.join(map(str, p))};".encode())
    return h.hexdigest()


def assemble_papers(bank: Bank, blueprint: Blueprint, candidates: list[dict], seed: int,
                    tolerance: float = TOLERANCE) -> tuple[dict, dict, dict]:
    """Papers for candidates (dicts with ticket, category, sitting_id / room_id).

    Returns (papers, keys, item_ids) keyed by ticket. ``item_ids`` is for the centre only.
    """
    assemblers: dict[str, Assembler] = {}
    seen: dict[str, set[str]] = defaultdict(set)       # room -> fingerprints
    papers, keys, item_ids = {}, {}, {}
    for c in sorted(candidates, key=lambda c: c["ticket"]):
        cat = c["category"]
        if cat not in assemblers:
            assemblers[cat] = Assembler(bank, blueprint, cat, tolerance)
        asm = assemblers[cat]
        room = c.get("room_id") or c.get("sitting_id", "").split("-")[-1]
        for attempt in range(200):
            rng = random.Random(sub_seed("paper", seed, c["ticket"], attempt))
            items, perms = asm.paper(rng)
            fp = fingerprint(items, perms)
            if fp not in seen[room]:
                break
        else:
            raise AssemblyError(f"考场{room}内无法生成互不相同的试卷顺序（题目太少？）")
        seen[room].add(fp)
        papers[c["ticket"]], keys[c["ticket"]] = render(items, perms)
        item_ids[c["ticket"]] = [it.item_id for it in items]
    return papers, keys, item_ids
