import random

from hypothesis import given, settings, strategies as st

from provisioning.idcard import check_char, gender_of, id_problem, is_valid, make_id, normalize


def test_known_examples():
    assert is_valid("11010519491231002X")          # the GB 11643 example
    assert is_valid("11010519491231002x")
    assert normalize(" 11010519491231002x ") == "11010519491231002X"
    assert check_char("11010519491231002") == "X"
    assert id_problem("110105194912310021") == "身份证号校验位错误"
    assert "18位" in id_problem("11010519491231002")
    assert "出生日期" in id_problem("110105194902310024")


@given(st.integers(0, 2**32), st.sampled_from(["男", "女"]))
def test_generated_ids_valid(seed, gender):
    idn = make_id(random.Random(seed), "500103", gender)
    assert is_valid(idn) and gender_of(idn) == gender
    assert 1960 <= int(idn[6:10]) <= 1995


@settings(max_examples=200)
@given(st.integers(0, 2**32), st.integers(0, 16), st.integers(1, 9))
def test_single_digit_error_detected(seed, pos, delta):
    idn = make_id(random.Random(seed), "500101", "男")
    d = str((int(idn[pos]) + delta) % 10)
    bad = idn[:pos] + d + idn[pos + 1:]
    assert check_char(bad[:17]) != bad[17]
