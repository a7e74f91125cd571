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
