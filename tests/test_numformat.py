"""Numbers in reports: significant digits relative to the interval, never a row of zeros."""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medbook.numformat import format_level, resolution, row_formatter
from medbook.report import effect_sentence, format_effect

_SUPER = str.maketrans("⁻⁰¹²³⁴⁵⁶⁷⁸⁹", "-0123456789")


def parse(text: str) -> float:
    """Read a formatted number back (``1.2 × 10⁻⁹`` or ``0.0012``)."""
    match = re.fullmatch(r"(-?[\d.]+)(?: × 10([⁻⁰¹²³⁴⁵⁶⁷⁸⁹]+))?", text)
    assert match, text
    mantissa = float(match.group(1))
    return mantissa * 10.0 ** int(match.group(2).translate(_SUPER)) if match.group(2) else mantissa


def all_zero(text: str) -> bool:
    return not text.replace("× 10", "").strip("-+0.⁻⁰¹²³⁴⁵⁶⁷⁸⁹ ")


@pytest.mark.parametrize("scale", [1e-4, 1e-6, 1e-9, 1e-12])
def test_tiny_effects_are_not_rows_of_zeros(scale):
    row = {"estimate": 2.3 * scale, "ci_lower": 1.1 * scale, "ci_upper": 3.6 * scale}
    fmt = row_formatter(row.values())
    texts = [fmt(v) for v in row.values()]
    assert not any(all_zero(t) for t in texts), texts
    assert len(set(texts)) == 3
    for value, text in zip(row.values(), texts, strict=True):
        assert parse(text) == pytest.approx(value, rel=0.05)
    sentence = effect_sentence("total", row, "difference", 0.95, treatment="T", mediator="M",
                               outcome="Y")
    assert not re.search(r"0\.000(?!\d)", sentence) and "T increased Y by" in sentence


def test_usual_effects_keep_three_decimals_and_percentage_points():
    assert row_formatter([0.4213, 0.1, 0.72])(0.4213) == "0.421"
    row = {"estimate": 0.113, "ci_lower": 0.082, "ci_upper": 0.145}
    assert format_effect(0.113, "risk difference", row=row) == "11.3 percentage points"
    tiny = {"estimate": 2e-7, "ci_lower": 1e-7, "ci_upper": 3e-7}
    assert format_effect(2e-7, "risk difference", row=tiny) == "2.0 × 10⁻⁵ percentage points"


def test_huge_values_use_a_power_of_ten():
    fmt = row_formatter([1.2e154, 1.1e154, 1.3e154])
    assert fmt(1.2e154) == "1.20 × 10¹⁵⁴"
    assert format_level(1e154) == "1.00 × 10¹⁵⁴"
    assert format_level(float("nan")) == "n/a"


def test_negative_zero_is_not_printed():
    assert row_formatter([0.0, -0.5, 0.5])(-0.0001) == "0.000"


finite = st.floats(min_value=-1e200, max_value=1e200, allow_nan=False, allow_infinity=False)


@settings(max_examples=300, deadline=None)
@given(lo=finite, width=st.floats(min_value=1e-15, max_value=1e15), frac=st.floats(0, 1))
def test_interval_limits_stay_distinct_and_readable(lo, width, frac):
    hi = lo + width
    if not math.isfinite(hi) or hi - lo <= 1e-9 * max(abs(lo), abs(hi)):
        return  # the interval is narrower than a double can express relative to its level
    est = lo + frac * (hi - lo)
    fmt = row_formatter([est, lo, hi])
    lo_text, hi_text, est_text = fmt(lo), fmt(hi), fmt(est)
    assert lo_text != hi_text
    assert len(est_text) <= 24
    places = resolution([est, lo, hi])
    tolerance = max(10.0 ** -min(places, 300), abs(est) * 1e-3)
    assert abs(parse(est_text) - est) <= tolerance
