"""Deeply nested JSON under the 64 KB frame limit (issue 12, item 16). The parser gives up
(RecursionError) before the handler is ever called; the protocol still promises an ack
with `bad_request` (the Socket.IO ack id sits in the packet's prefix, before the JSON),
no traceback in the log, nothing changed, and the connection keeps working. Raw frames
over a real websocket (RawSio)."""
from __future__ import annotations

import pytest

from floodkit import log_in, open_paper
from factories import fast_plan
from fuzzkit import check_ack, hall_with, snapshot

PLAN = fast_plan(candidates_per_room=2, rooms=1, questions=10, duration_minutes=30)
SITTING = PLAN["sittings"][0]["sitting_id"]


def nest(depth: int) -> str:
    return "[" * depth + "]" * depth


# (event, JSON text of its payload): all under 64 KB
CASES = {
    "answer, [ x 10000 in q": ("answer", '{"q":' + nest(10_000) + ',"choice":"A","seq":99}'),
    "answer, [ x 10000 unclosed": ("answer", '{"q":1,"choice":' + "[" * 10_000 + ',"seq":99}'),
    "submit, depth 3000 in answers": ("submit", '{"answers":{"1":' + nest(3_000) + "}}"),
    "submit, dicts 3000 deep": ("submit", '{"answers":' + '{"1":' * 3_000 + "1" + "}" * 3_000 + "}"),
    "sync, depth 1200 payload": ("sync", nest(1_200)),
    # parses (under the parser's limit): the handler's own checks refuse it (a guard, not a bug)
    "focus, depth 900 (parses)": ("focus", '{"hidden":' + nest(900) + ',"ms":1}'),
}


@pytest.fixture(scope="module")
def hall(tmp_path_factory):
    h = hall_with(tmp_path_factory.mktemp("deep") / "h", PLAN).start()
    raw = log_in(h, PLAN["candidates"][0])
    h.start_sitting(SITTING)
    open_paper(raw)
    assert raw.call("answer", {"q": 1, "choice": "B", "seq": 1})["ok"]
    h.raw = raw
    yield h
    raw.close()
    h.stop()


@pytest.mark.parametrize("case", list(CASES))
def test_deeply_nested_json_gets_bad_request_and_no_traceback(hall, case):
    event, payload = CASES[case]
    raw = hall.raw
    before = snapshot(hall)
    log_from = len(hall.log.read_bytes())
    aid = raw.next_id
    raw.next_id += 1
    frame = f'42{aid}["{event}",{payload}]'
    assert len(frame.encode()) < 64 * 1024
    raw.send(frame)
    ack = raw.ack(aid, timeout=5)
    assert ack is not None, "no ack at all"
    code = check_ack(ack)
    assert code in ("bad_request", "bad_question", "bad_choice"), ack
    assert snapshot(hall) == before
    assert raw.call("sync", {})["ok"]  # the same connection still works
    log = hall.log.read_bytes()[log_from:].decode(errors="replace")
    assert "Traceback" not in log and "RecursionError:" not in log, log[-3000:]
