"""Shared vocabulary of provisioning: categories, levels, difficulty bands, items."""
from __future__ import annotations

from dataclasses import dataclass, field

CATEGORIES = ("临床", "中医", "口腔", "公共卫生")
LEVELS = ("执业医师", "执业助理医师")
OPTION_KEYS = ("A", "B", "C", "D", "E")

# 难度 is the 难度系数 of Chinese exam offices: the expected share of correct answers
# (0.8 = easy, 0.3 = hard). Bands used by blueprints:
BANDS = (("难", 0.0, 0.45), ("中", 0.45, 0.65), ("易", 0.65, 1.0001))
BAND_NAMES = tuple(b[0] for b in BANDS)

EXAM_DEFAULTS = {
    "title": "医师定期考核业务水平测评",
    "duration_minutes": 60,
    "late_entry_minutes": 10,
    "earliest_submit_minutes": 15,
    "question_count": 100,
    "points_per_question": 1,
    "timezone": "Asia/Shanghai",     # the exam's clock: every site shows times in it
}


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
