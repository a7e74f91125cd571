"""The exam's timing rules as pure functions."""
from hall_server.exam import rules

S = rules.SittingTimes("started", started_at=1000.0, paused_at=None, paused_total_s=0,
                       duration_s=3600, late_entry_s=600, earliest_submit_s=900)


def test_deadline_counts_from_opening_not_sitting_start():
    assert rules.deadline(1300.0, S) == 1300.0 + 3600
    assert rules.deadline(1300.0, S, extra_s=120) == 1300.0 + 3720


def test_late_entry_boundary():
    assert rules.may_open(S, 1000.0 + 600) is None
    assert rules.may_open(S, 1000.0 + 600.001) == "late_entry"
    assert rules.may_open(S, 1000.0 + 601, admitted_late=True) is None


def test_pause_extends_late_entry():
    paused_before = rules.SittingTimes("started", 1000.0, None, 300, 3600, 600, 900)
    assert rules.may_open(paused_before, 1000.0 + 800) is None


def test_cannot_open_before_start_while_paused_or_after_end():
    assert rules.may_open(rules.SittingTimes("planned", None, None, 0, 3600, 600, 900), 0) == "not_started"
    assert rules.may_open(rules.SittingTimes("paused", 1000.0, 1100.0, 0, 3600, 600, 900), 1101) == "paused"
    assert rules.may_open(rules.SittingTimes("ended", 1000.0, None, 0, 3600, 600, 900), 1101) == "sitting_ended"


def test_earliest_submit_counts_from_opening():
    assert rules.may_submit(1300.0 + 899, 1300.0, S) == "too_early"
    assert rules.may_submit(1300.0 + 900, 1300.0, S) is None


def test_answer_refusals():
    assert rules.answer_refusal("answering", 10.0, 20.0, "started") is None
    assert rules.answer_refusal("answering", 20.0, 20.0, "started") is None
    assert rules.answer_refusal("answering", 20.01, 20.0, "started") == "time_up"
    assert rules.answer_refusal("submitted", 10.0, 20.0, "started") == "submitted"
    assert rules.answer_refusal("terminated", 10.0, 20.0, "started") == "submitted"
    assert rules.answer_refusal("confirmed", 10.0, None, "started") == "not_answering"
    assert rules.answer_refusal("answering", 10.0, 20.0, "paused") == "paused"


def test_replay_never_overwrites_a_newer_choice():
    assert rules.newer(5, None)
    assert rules.newer(6, 5)
    assert not rules.newer(5, 5)
    assert not rules.newer(4, 5)


def test_valid_choice():
    assert rules.valid_choice("A", ("A", "B"))
    assert rules.valid_choice(None, ("A", "B"))
    assert not rules.valid_choice("E", ("A", "B", "C", "D"))
    assert not rules.valid_choice(1, ("A",))
