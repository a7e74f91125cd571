"""Docs, config and code that provably agree (issue 14 item 1; Datasette's tests/test_docs.py).

Each test reads the code's own tables (never a copy kept here) and the text a newcomer reads,
and fails naming what drifted apart.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import re
import shlex
import tomllib
from pathlib import Path

import pytest

from hall_server.config import DEFAULTS
from hall_server.exam.errors import MESSAGES

ROOT = Path(__file__).resolve().parents[1]
PROTOCOL = (ROOT / "docs" / "protocol.md").read_text(encoding="utf-8")
APP_JS = (ROOT / "static_client" / "candidate" / "app.js").read_text(encoding="utf-8")
EXAMPLE = ROOT / "config.example.toml"


# -- config.example.toml == hall_server/config.py DEFAULTS ---------------------------------

def test_config_example_has_every_default_and_nothing_else():
    example = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    assert sorted(example) == sorted(DEFAULTS), "sections differ"
    for section, values in DEFAULTS.items():
        assert sorted(example[section]) == sorted(values), f"[{section}] keys differ"
        for key, default in values.items():
            assert example[section][key] == default and type(example[section][key]) is type(default), \
                f"{section}.{key}: example says {example[section][key]!r}, DEFAULTS say {default!r}"


def test_every_example_key_is_explained_by_a_comment():
    """A key line is covered by the comment above it, or above the run of keys it belongs to
    (no blank line between): `port = 8080` under `host`'s comment is fine."""
    undocumented, section, commented = [], None, False
    for line in EXAMPLE.read_text(encoding="utf-8").splitlines():
        s = line.strip()
        if not s:
            commented = False
        elif s.startswith("["):
            section, commented = s.strip("[]"), False
        elif s.startswith("#"):
            commented = section is not None
        elif "=" in s and not commented:
            undocumented.append(f"{section}.{s.split('=')[0].strip()}")
    assert not undocumented, f"keys without a comment in config.example.toml: {undocumented}"


def _python_sources(*packages: str) -> dict[Path, str]:
    return {p: p.read_text(encoding="utf-8") for pkg in packages for p in (ROOT / pkg).rglob("*.py")}


def test_every_config_key_is_read_somewhere():
    """A key documented as a setting must change something: its name is read by some module
    other than config.py. ([rules]' exam numbers are proved by behaviour, in
    tests/core/test_bundle_import.py::test_config_rules_are_the_plans_defaults.)"""
    sources = [t for p, t in _python_sources("hall_server").items() if p.name != "config.py"]
    unread = [f"{section}.{key}" for section, values in DEFAULTS.items() for key in values
              if not any(re.search(rf"""["']{key}["']""", t) for t in sources)]
    assert not unread, f"config keys nothing reads: {unread}"


# -- error codes: exam/errors.py == protocol.md == the phone's table ------------------------

def _js_object_keys(source: str, name: str) -> set[str]:
    m = re.search(rf"var {name} = \{{(.*?)\n  \}};", source, re.S)
    assert m, f"no `var {name} = {{…}};` in app.js"
    return set(re.findall(r"^\s*([a-z_]+):", m.group(1), re.M))


def test_every_error_code_is_in_the_protocol_doc():
    missing = [c for c in MESSAGES if f"`{c}`" not in PROTOCOL]
    assert not missing, f"error codes missing from docs/protocol.md: {missing}"


def test_every_error_code_is_in_the_phones_message_table():
    missing = sorted(set(MESSAGES) - _js_object_keys(APP_JS, "ERR"))
    assert not missing, f"error codes missing from static_client/candidate/app.js ERR: {missing}"


def test_every_error_code_raised_has_a_message():
    """ExamError("code", …) anywhere in hall_server names a code of errors.py (else the
    phone shows the bare code)."""
    raised = set()
    for text in _python_sources("hall_server").values():
        raised |= set(re.findall(r"""ExamError\(\s*["']([a-z_]+)["']""", text))
    assert raised, "found no ExamError(...) at all: the pattern is stale"
    assert not raised - set(MESSAGES), f"codes raised without a message: {sorted(raised - set(MESSAGES))}"


# -- staff events: realtime/staff.py == protocol.md == the fuzzer's list --------------------

def staff_events() -> set[str]:
    """The events StaffChannel registers, read from the channel itself."""
    from hallproc import staff_events as registered

    return set(registered())


def _staff_section() -> str:
    return PROTOCOL.split("## Staff (namespace `/staff`)", 1)[1].split("\n## ", 1)[0]


def test_staff_events_are_found():
    assert {"watch", "start_sitting", "end_sitting", "incident"} <= staff_events()


def test_every_staff_event_is_in_the_protocol_doc():
    table = _staff_section()
    missing = sorted(e for e in staff_events() if not re.search(rf"^\| `{e}`|/ `{e}` \|", table, re.M))
    assert not missing, f"staff events missing from docs/protocol.md's staff table: {missing}"


def test_every_staff_event_is_fuzzed():
    """The fuzzer's list is the server's own registrations (hallproc.staff_events), not a copy."""
    import sys

    sys.path.insert(0, str(ROOT / "tests" / "attack"))
    fuzz = importlib.import_module("test_fuzz_events")
    missing = sorted(staff_events() - set(fuzz.STAFF_EVENTS))
    assert not missing, f"staff events the attack fuzzer never sends (tests/attack STAFF_EVENTS): {missing}"


# -- every incident kind and violation level can be chosen on the console --------------------

@pytest.fixture(scope="module")
def console_html(tmp_path_factory):
    """The sitting page as the real server renders it for the chief."""
    from factories import make_plan
    from hallproc import HallProcess

    plan = make_plan(candidates_per_room=2, rooms=1)
    hall = HallProcess(tmp_path_factory.mktemp("console"), plan).start()
    try:
        r = hall.staff_session().get(hall.url + f"/console/sitting/{plan['sittings'][0]['sitting_id']}", timeout=10)
        assert r.status_code == 200, r.text[:500]
        return r.text
    finally:
        hall.stop()


def test_every_incident_kind_is_reachable_from_the_console(console_html):
    """Each kind of contracts/exam.py is a choice on the console, under its own label."""
    from contracts.exam import INCIDENT_KINDS

    form = re.search(r'<fieldset data-task="incident".*?</fieldset>', console_html, re.S)
    assert form, "no incident form on the console"
    offered = dict(re.findall(r'name="kind" value="([a-z_]+)"[^>]*> ([^<]+)<', form.group(0)))
    missing = sorted(set(INCIDENT_KINDS) - set(offered))
    assert not missing, f"incident kinds the console cannot record: {missing}"
    assert {k: offered[k].strip() for k in INCIDENT_KINDS} == INCIDENT_KINDS, "console labels differ from contracts"


def test_every_violation_level_is_reachable_from_the_console(console_html):
    from contracts.exam import VIOLATION_LEVELS

    select = re.search(r'<select name="level">(.*?)</select>', console_html, re.S)
    assert select, "no violation level <select> on the console"
    offered = dict(re.findall(r'<option value="([a-z_]+)">([^<（]+)', select.group(1)))
    missing = sorted(set(VIOLATION_LEVELS) - set(offered))
    assert not missing, f"violation levels the console cannot record: {missing}"
    assert {k: offered[k] for k in VIOLATION_LEVELS} == VIOLATION_LEVELS, "console labels differ from contracts"


# -- every command the docs show exists ----------------------------------------------------

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# `hall …` and `python -m <module> …` -> the module whose build_parser() parses it
CLI_MODULES = {"hall": "hall_server.cli", "hall_server": "hall_server.cli"}
COMMAND = re.compile(r"^(?:\$ )?(?:sudo )?(?:\.venv/bin/|/opt/hall/bin/)?"
                     r"(?:(?P<hall>hall)(?= -| [a-z])|python3? -m (?P<module>[a-z_][a-z0-9_.]*))(?P<rest>.*)$")


def _code_snippets(text: str):
    """Inline code spans and the lines of fenced blocks (continuations joined)."""
    blocks = re.findall(r"^```[a-z]*\n(.*?)^```", text, re.S | re.M)
    for block in blocks:
        yield from block.replace("\\\n", " ").splitlines()
    prose = re.sub(r"^```[a-z]*\n.*?^```", "", text, flags=re.S | re.M)
    yield from re.findall(r"`([^`\n]+)`", prose)


def doc_commands() -> list[tuple[str, str, list[str]]]:
    """(where, module, argv) of every command shown in README.md, docs/*.md and the hall CLI's
    own docstring."""
    sources = {p.relative_to(ROOT).as_posix(): p.read_text(encoding="utf-8") for p in DOCS}
    usage = importlib.import_module("hall_server.cli").__doc__.splitlines()   # "    hall X   what it does"
    sources["hall_server/cli.py"] = "```\n" + "\n".join(re.split(r"\s{2,}", u.strip())[0] for u in usage) + "\n```\n"
    found = []
    for where, text in sources.items():
        for snippet in _code_snippets(text):
            m = COMMAND.match(snippet.strip())
            if not m:
                continue
            module = "hall_server" if m["hall"] else m["module"]
            rest = m["rest"].split("#")[0].replace("…", " ")
            try:
                argv = shlex.split(rest)
            except ValueError:
                argv = rest.split()
            found.append((where, module, argv))
    return found


def _parser_of(module: str) -> argparse.ArgumentParser | None:
    name = CLI_MODULES.get(module, module)
    for candidate in (name, f"{name}.cli"):
        try:
            mod = importlib.import_module(candidate)
        except ModuleNotFoundError:
            continue
        if hasattr(mod, "build_parser"):
            return mod.build_parser()
    return None


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    # argparse offers no public accessor for its subparsers
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _options(parser: argparse.ArgumentParser) -> set[str]:
    return {s for action in parser._actions for s in action.option_strings}


def test_doc_commands_are_found():
    modules = {m for _, m, _ in doc_commands()}
    assert {"hall_server", "provisioning", "sync", "sync.central"} <= modules


@pytest.mark.parametrize("where,module,argv", doc_commands(), ids=lambda v: v if isinstance(v, str) else " ".join(v))
def test_every_documented_command_exists(where, module, argv):
    """The module exists; for our CLIs the subcommand and every --option shown exist."""
    assert importlib.util.find_spec(module) is not None, f"{where}: no module {module}"
    parser = _parser_of(module)
    if parser is None:
        return
    top = _options(parser)
    words = [w for w in (a.strip("[]") for a in argv) if w]
    i = 0
    while i < len(words) and words[i].startswith("-"):            # options before the command
        assert words[i].split("=")[0] in top, f"{where}: {module} has no option {words[i]}"
        i += 2 if words[i] == "--config" else 1
    subs = _subcommands(parser)
    if not subs:
        return
    if i == len(words):
        assert words == [] or words[-1] in top, f"{where}: {module} {' '.join(argv)} names no command"
        return
    command = words[i]
    assert command in subs, f"{where}: `{module} {' '.join(argv)}`: no command {command!r} (has {sorted(subs)})"
    known = _options(subs[command]) | top
    for word in words[i + 1:]:
        opt = word.split("=")[0]
        if opt.startswith("--"):
            assert opt in known, f"{where}: `{module} {command}` has no option {opt}"


# -- every repository path the docs name exists -------------------------------------------

REPO_DIRS = ("hall_server", "provisioning", "sync", "tests", "docs", "bench", "static_client", "release")
IGNORED = ("bench/results", "static_client/vendor/node_modules", "test-output", "var/")   # .gitignore'd output


def doc_paths() -> list[tuple[str, str]]:
    found = []
    pattern = re.compile(rf"^(?:{'|'.join(REPO_DIRS)})/[\w./-]*[\w/]$")
    for doc in [*DOCS, *(ROOT / "static_client").rglob("README.md")]:
        text = doc.read_text(encoding="utf-8")
        for span in re.findall(r"`([^`\n]+)`", text):
            path = span.split("::")[0].split(" ")[0].rstrip("/.:,")
            if pattern.match(path) and not any(c in path for c in "*<>{}") and not path.startswith(IGNORED):
                found.append((doc.relative_to(ROOT).as_posix(), path))
    return found


def test_every_path_the_docs_name_exists():
    """A file or folder a doc names in code spans is in the repository (tests/ names may be
    given relative to tests/, as docs/testing.md's tables do; a.b.c module paths count)."""
    missing = []
    for where, path in doc_paths():
        candidates = [ROOT / path, ROOT / "tests" / path, ROOT / (path.split(".")[0].replace(".", "/") + ".py")]
        if not any(c.exists() for c in candidates):
            missing.append(f"{where}: {path}")
    assert not missing, "docs name files that are not in the repository:\n" + "\n".join(missing)
