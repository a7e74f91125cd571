"""Provisioning's model: difficulty bands and items (categories, levels and the exam's
default numbers are the exam's vocabulary: contracts/exam.py)."""
from __future__ import annotations

from dataclasses import dataclass, field

OPTION_KEYS = ("A", "B", "C", "D", "E")

# 难度 is the 难度系数 of Chinese exam offices: the expected share of correct answers
# (0.8 = easy, 0.3 = hard). Bands used by blueprints:
BANDS = (("难", 0.0, 0.45), ("中", 0.45, 0.65), ("易", 0.65, 1.0001))
BAND_NAMES = tuple(b[0] for b in BANDS)

def band_of(difficulty: float) -> str:
    for name, lo, hi in BANDS:
        if lo <= difficulty < hi:
            return name
    raise ValueError(f"难度超出范围: {difficulty}")


@dataclass(frozen=True)
class Item:
    item_id: str
    category: str
    topic: str
    difficulty: float
    stem: str
    options: tuple[str, ...]      # texts in the bank's order (A, B, ...)
    answer: str                   # "A".."E", in the bank's order
    image: str | None = None      # media name "<sha256>.png"
    qtype: str = "A1"
    group: str | None = None      # A3/A4: items of one shared case stem; a paper keeps them together

    @property
    def band(self) -> str:
        return band_of(self.difficulty)


@dataclass
class Bank:
    items: list[Item]
    media: dict[str, bytes] = field(default_factory=dict)

    def by_category(self, category: str) -> list[Item]:
        return [i for i in self.items if i.category == category]
