from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gpusim.units import parse_duration, parse_quantity, parse_rate


@pytest.mark.parametrize(
    "text,expected",
    [
        ("500m", Fraction(1, 2)),
        ("8", Fraction(8)),
        ("64Gi", Fraction(64 * 2**30)),
        ("1.5Ti", Fraction(3, 2) * 2**40),
        ("1e3", Fraction(1000)),
        ("2k", Fraction(2000)),
        ("100M", Fraction(10**8)),
        (".5", Fraction(1, 2)),
        (3, Fraction(3)),
        (0.25, Fraction(1, 4)),
    ],
)
def test_quantities(text, expected):
    assert parse_quantity(text) == expected


@pytest.mark.parametrize("bad", ["", "abc", "1.5.3", "12Xi", "1 Gi x", "--1", True, None, [1]])
def test_bad_quantities(bad):
    with pytest.raises(ValueError):
        parse_quantity(bad)


@pytest.mark.parametrize(
    "text,seconds",
    [
        ("90s", 90),
        ("10m", 600),
        ("6h", 21600),
        ("2d", 172800),
        ("1h30m", 5400),
        ("250ms", 0.25),
        (42, 42),
        ("42", 42),
        ("1w", 604800),
        ("2min", 120),
    ],
)
def test_durations(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["", "h", "10x", "1h 30q", "ten minutes", True, None])
def test_bad_durations(bad):
    with pytest.raises(ValueError):
        parse_duration(bad)


@pytest.mark.parametrize("bad", ["-5s", "-1h30m", " -250ms"])
def test_negative_durations_say_so(bad):
    with pytest.raises(ValueError, match="is negative: a duration is 0 or more"):
        parse_duration(bad)
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration("-" + bad.strip())  # two signs: not a duration at all


@pytest.mark.parametrize(
    "text,per_s", [("36/h", 0.01), ("0.5/s", 0.5), ("2/min", 2 / 60), ("86.4/d", 0.001), (3, 3.0), ("3", 3.0)]
)
def test_rates(text, per_s):
    assert parse_rate(text) == pytest.approx(per_s)


@pytest.mark.parametrize("bad", ["3/fortnight", "x/h", "", None])
def test_bad_rates(bad):
    with pytest.raises(ValueError):
        parse_rate(bad)


@given(st.integers(min_value=0, max_value=10**6), st.sampled_from(["s", "m", "h", "d"]))
def test_duration_units_scale(n, unit):
    factor = {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit]
    assert parse_duration(f"{n}{unit}") == pytest.approx(n * factor)


@given(st.integers(min_value=0, max_value=10**9))
def test_binary_and_milli_suffixes(n):
    assert parse_quantity(f"{n}Mi") == n * 2**20
    assert parse_quantity(f"{n}m") == Fraction(n, 1000)
