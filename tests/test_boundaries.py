"""Boundaries that keep the code base honest (issue 14 items 4 and 6): thin command lines,
and no module reaching into another's private names."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLIS = ["hall_server/cli.py", "hall_server/printing/cli.py", "provisioning/cli.py", "sync/cli.py",
        "sync/central/cli.py"]
SQL = re.compile(r"\.execute(many)?\(|\b(SELECT|INSERT|UPDATE|DELETE)\b\s+\w")


def test_command_lines_hold_no_sql():
    """A CLI parses arguments and calls functions of the db/exam layer; SQL lives there."""
    found = [f"{path}:{n}: {line.strip()}" for path in CLIS
             for n, line in enumerate((ROOT / path).read_text(encoding="utf-8").splitlines(), 1) if SQL.search(line)]
    assert not found, "SQL in a command line module:\n" + "\n".join(found)


def test_command_lines_dispatch_one_way():
    """Every CLI builds its parser in build_parser() and binds each command to its function
    with set_defaults(fn=...); main() calls args.fn(args)."""
    for path in ("hall_server/cli.py", "provisioning/cli.py", "sync/cli.py", "sync/central/cli.py"):
        text = (ROOT / path).read_text(encoding="utf-8")
        assert "def build_parser() -> argparse.ArgumentParser:" in text, path
        commands = len(re.findall(r"\.add_parser\(", text))
        bound = len(re.findall(r"\.set_defaults\(fn=", text))
        assert commands and bound >= commands - text.count("for name, fn in"), (path, commands, bound)
        assert re.search(r"return (a|args)\.fn\((a|args)\)", text), path


def test_late_entry_is_decided_in_one_function():
    """开考10分钟后禁止入场: rules.too_late decides it; no other module compares a time with
    the late-entry limit (the login, opening, the 缺考 sweep and the counts all call it)."""
    compare = re.compile(r"late_entry_until\([^)]*\)\s*[<>]|[<>]=?\s*(late_entry_)?until\b|\buntil\s*[<>]")
    found = [f"{p.relative_to(ROOT)}:{n}: {line.strip()}" for p in (ROOT / "hall_server").rglob("*.py")
             if p.name != "rules.py"
             for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if compare.search(line)]
    assert not found, "the late-entry limit compared outside exam/rules.py:\n" + "\n".join(found)


def test_the_exams_labels_are_tabled_once():
    """Every code → Chinese label pair of contracts/exam.py (statuses, sitting states,
    violation levels, incident kinds, submit reasons, categories) is written down there only:
    no other module, script or page keeps its own table of them. (Tests may spell the words
    they expect on a form: that is the specification, not a second table.)"""
    from contracts import exam

    pairs = {**exam.STATUS_LABELS, **exam.SITTING_LABELS, **exam.VIOLATION_LEVELS, **exam.INCIDENT_KINDS,
             **exam.SUBMIT_REASONS}
    table = re.compile("|".join(rf"""["']?\b{re.escape(code)}\b["']?\s*:\s*["']{re.escape(label)}["']"""
                                for code, label in pairs.items()))
    categories = re.compile(r"""["']临床["']\s*,\s*["']中医["']\s*,\s*["']口腔["']""")
    found = []
    for pkg in ("hall_server", "provisioning", "sync", "static_client/candidate", "static_client/console", "bench"):
        for p in (ROOT / pkg).rglob("*"):
            if p.suffix not in (".py", ".js", ".html") or p.name == "test_boundaries.py":
                continue
            for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
                if table.search(line) or categories.search(line):
                    found.append(f"{p.relative_to(ROOT)}:{n}: {line.strip()[:100]}")
    assert not found, "a copy of the exam's labels (use contracts/exam.py):\n" + "\n".join(found)


PACKAGES = ("contracts", "hall_server", "provisioning", "sync")


def _sources(*packages: str) -> dict[Path, str]:
    return {p: p.read_text(encoding="utf-8") for pkg in packages for p in (ROOT / pkg).rglob("*.py")}


def test_no_module_reaches_into_another_modules_private_names():
    """`obj._name` and `from m import _name` only for names defined in the same module.
    (Third-party internals that net/ and realtime/ patch on purpose are not ours: their
    names are defined nowhere in hall.)"""
    sources = _sources(*PACKAGES)
    defined = {p: set(re.findall(r"(?:def |class |self\.|^\s*)(_[a-z]\w*)\s*[(:=]", t, re.M))
               | set(re.findall(r"__slots__ = \(([^)]*)\)", t)) for p, t in sources.items()}
    ours = set().union(*defined.values())
    found = []
    for p, text in sources.items():
        for n, line in enumerate(text.splitlines(), 1):
            code = line.split("#")[0]
            names = [m.group(2) for m in re.finditer(r"\b(\w+)\.(_[a-z]\w*)", code) if m.group(1) not in ("self", "cls")]
            names += re.findall(r"\bimport .*?\b(_[a-z]\w*)", code) if code.lstrip().startswith("from ") else []
            for name in names:
                if name in ours and name not in defined[p]:
                    found.append(f"{p.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not found, "private names used across modules:\n" + "\n".join(found)


def _imported_packages(path: Path) -> set[str]:
    import ast

    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_the_three_parts_share_only_contracts():
    """hall_server, provisioning and sync import none of each other, in either direction;
    what they share is in contracts/, which imports none of them (docs/ARCHITECTURE.md)."""
    crossing = []
    for pkg in PACKAGES:
        others = set(PACKAGES) - {pkg, "contracts"} if pkg != "contracts" else set(PACKAGES) - {"contracts"}
        for p in (ROOT / pkg).rglob("*.py"):
            bad = _imported_packages(p) & others
            if bad:
                crossing.append(f"{p.relative_to(ROOT)} imports {sorted(bad)}")
    assert not crossing, "imports across the boundaries:\n" + "\n".join(crossing)
