"""The loss chart's smoothing, log scale and ranges."""

from __future__ import annotations

import numpy as np
import pytest

from flowstudio.workbench import curves


def test_smoothing_follows_the_trend_and_has_no_startup_bias() -> None:
    rng = np.random.default_rng(0)
    trend = np.linspace(10, 1, 500)
    noisy = trend + rng.normal(0, 1, 500)
    smoothed = curves.smooth(noisy, 0.9)
    assert np.abs(smoothed - trend)[50:].mean() < 0.5 * np.abs(noisy - trend)[50:].mean()
    assert smoothed[0] == pytest.approx(noisy[0])  # bias-corrected: not pulled towards 0
    np.testing.assert_array_equal(curves.smooth(noisy, 0.0), noisy)
    with pytest.raises(ValueError):
        curves.smooth(noisy, 1.0)


def test_symlog_takes_negative_values_and_inverts() -> None:
    values = np.array([-3000.0, -2.0, 0.0, 0.01, 5.0, 4000.0])
    tau = curves.symlog_scale(values)
    y = curves.symlog(values, tau)
    assert np.all(np.diff(y) > 0)  # monotone through zero
    np.testing.assert_allclose(curves.symlog_inverse(y, tau), values, rtol=1e-9, atol=1e-12)
    # decades get equal room: 4000 and 0.01 are not squashed onto one line
    assert y[-1] - y[-2] < 3 * (y[-2] - y[-3])


def test_ranges_skip_the_initial_spike() -> None:
    values = np.r_[[1e4], np.linspace(2.0, 1.0, 99)]
    lo, hi = curves.value_range([values])
    assert hi < 3 and lo < 1
    assert curves.value_range([np.array([])]) is None


def test_log_ticks_sit_on_decades() -> None:
    tau = 0.01
    lo, hi = curves.symlog(np.array([-50.0, 5000.0]), tau)
    ticks = curves.symlog_inverse(np.array(curves.symlog_ticks(lo, hi, tau, count=20)), tau)
    nonzero = np.abs(ticks[ticks != 0])
    np.testing.assert_allclose(np.log10(nonzero), np.round(np.log10(nonzero)), atol=1e-9)
    assert ticks.min() >= -50 and ticks.max() <= 5000 and 1000 in np.round(ticks)
