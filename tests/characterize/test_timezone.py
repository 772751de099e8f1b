"""Time-zone estimation on synthetic rhythms shifted by known offsets."""

from __future__ import annotations

from datetime import date

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from fimiscope.characterize import timezone as tz


def _utc_counts(template: str, offset: int, n: int, seed: int) -> np.ndarray:
    """Poisson counts by UTC hour of week for a rhythm kept at local = UTC + offset."""
    rng = np.random.default_rng(seed)
    utc = np.roll(tz.TEMPLATES[template], -offset)  # utc[h] = local[h + offset]
    return rng.poisson(utc * n).astype(float)


def test_recovers_known_offsets() -> None:
    assert tz.estimate_offset(_utc_counts("office", 3, 3000, 1)).offset == 3
    est = tz.estimate_offset(_utc_counts("leisure", 9, 3000, 2))
    assert est.offset == 9 and est.template == "leisure"
    assert est.ci_low <= 9 <= est.ci_high
    assert est.profile[9] == 0.0


@settings(max_examples=40, deadline=None)
@given(
    offset=st.integers(-6, 8),
    k=st.integers(-5, 5),
    template=st.sampled_from(["office", "leisure"]),
    seed=st.integers(0, 10_000),
)
def test_shifting_times_by_k_hours_shifts_the_estimate(
    offset: int, k: int, template: str, seed: int
) -> None:
    counts = _utc_counts(template, offset, 2000, seed)
    base = tz.estimate_offset(counts)
    # +-12..14 wrap around the day; stay where the shifted profile is fully inside the range
    assume(-9 <= offset - k <= 9 and base.ci_low - k >= -9 and base.ci_high - k <= 9)
    # every action k hours later in UTC: the same local rhythm sits k hours further west
    shifted = tz.estimate_offset(np.roll(counts, k))
    assert shifted.offset == base.offset - k
    assert (shifted.ci_low, shifted.ci_high) == (base.ci_low - k, base.ci_high - k)


def test_hour_of_week_and_clock() -> None:
    monday = np.datetime64("2025-07-07T05:00:00").astype("datetime64[s]").astype(np.int64)
    assert tz.hour_of_week(np.array([monday]))[0] == 5
    svg = tz.clock_svg(np.ones(168), 3, "group <0> & co")
    assert svg.startswith("<svg") and "group &lt;0&gt; &amp; co" in svg and "UTC+3" in svg


def test_holiday_check_sees_a_quiet_holiday() -> None:
    # one action per hour of 09-17 Moscow on weekdays of 2025-06-09..06-20, none on 06-12 / 06-13
    days = np.arange(np.datetime64("2025-06-09"), np.datetime64("2025-06-21"))
    ts = []
    for d in days:
        if d.astype(object).weekday() < 5 and str(d) not in ("2025-06-12", "2025-06-13"):
            for h in range(6, 15):  # 09-17 Moscow is 06-14 UTC
                ts.append(int((d - np.datetime64("1970-01-01")).astype(int)) * 86400 + h * 3600)
    out = tz.holiday_check(np.array(ts), {"RU": [date(2025, 6, 12), date(2025, 6, 13)], "JP": []})
    assert out["RU"]["observed_holidays"] == 2 and out["RU"]["ratio"] == 0.0
    assert out["JP"]["observed_holidays"] == 0


def test_bootstrap_interval_contains_truth() -> None:
    rng = np.random.default_rng(0)
    day = np.stack([rng.poisson(np.roll(tz.TEMPLATES["office"], -3) * 300 / 7) for _ in range(14)])
    lo, hi = tz.bootstrap_interval(day.astype(float), weekday=np.arange(14) % 7, reps=50, seed=1)
    assert lo <= 3 <= hi
