"""What a writer operation changed, as the committed transaction saw it.

The exam service mirrors the database in memory; the one rule that keeps the two equal is
that the mirror changes only from a `Changes` returned by a committed operation, applied in
commit order (db/writer.py: Pending.apply). An operation therefore lists every row it
changed, read back after the change, never what the caller asked for.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Changes:
    attempts: list[dict] = field(default_factory=list)
    sittings: list[dict] = field(default_factory=list)
    # ticket -> that attempt's whole answer set {q: (choice, seq)} (replaces the mirror's)
    answers: dict[str, dict[int, tuple[str | None, int]]] = field(default_factory=dict)
    violations: list[dict] = field(default_factory=list)
    captures: list[dict] = field(default_factory=list)   # capture rows (proctor), read back
    id_checks: list[dict] = field(default_factory=list)  # identity checks, read back
    released: dict | None = None  # a sealed sitting's papers, released by this operation
    result: Any = None            # what the operation tells its caller besides the rows

    def attempt(self, ticket: str) -> dict | None:
        for row in reversed(self.attempts):
            if row["ticket"] == ticket:
                return row
        return None
