"""The loss chart's colours and axis ticks, shared by the window's other painted charts
(:mod:`flowstudio.gui.views_histograms`): one dark palette, round tick values and short
tick labels."""

from __future__ import annotations

import math

PALETTE = ["#58a6ff", "#f78166", "#3fb950", "#d2a8ff", "#e3b341", "#ff7b72", "#79c0ff", "#a5d6ff"]
NFE_COLORS = {"NFE forward": "#8b949e", "NFE backward": "#6e7681"}
BACKGROUND, PLOT_BG, GRID, TEXT = "#0d1117", "#161b22", "#30363d", "#c9d1d9"
"""Series colours in order of appearance; the NFE counts have their own greys."""


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values covering [lo, hi] (1, 2, 5 × 10^k spacing)."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    raw = (hi - lo) / max(1, count)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step) + 1)]


def format_tick(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1e6 or abs(value) < 1e-2:
        return f"{value:.0e}" if abs(math.log10(abs(value)) % 1) < 1e-9 else f"{value:.1e}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"
