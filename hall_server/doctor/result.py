"""One line of the preflight: what was checked, pass / warn / fail, and what to do."""
from __future__ import annotations

from dataclasses import asdict, dataclass

PASS, WARN, FAIL = "pass", "warn", "fail"
LABELS = {PASS: "通过", WARN: "注意", FAIL: "不通过"}


@dataclass
class Check:
    key: str
    title: str
    status: str
    detail: str
    fix: str = ""

    @property
    def blocker(self) -> bool:
        return self.status == FAIL

    def as_dict(self) -> dict:
        return asdict(self) | {"label": LABELS[self.status]}


def format_text(checks: list[Check]) -> str:
    width = max(len(c.title) for c in checks) if checks else 0
    lines = []
    for c in checks:
        line = f"[{LABELS[c.status]}] {c.title}{'　' * (width - len(c.title))}  {c.detail}"
        if c.fix and c.status != PASS:
            line += f"\n        → {c.fix}"
        lines.append(line)
    blockers = sum(c.blocker for c in checks)
    warns = sum(c.status == WARN for c in checks)
    if blockers:
        lines.append(f"结论：有 {blockers} 项必须处理后才能开考" + (f"，另有 {warns} 项请注意" if warns else ""))
    else:
        lines.append("结论：可以开考" + (f"（有 {warns} 项请注意）" if warns else ""))
    return "\n".join(lines)
