"""What the window says about where the user stands, as pure functions (tested without Qt).

- :func:`view_placeholder`: the text an empty analysis view shows. It follows the run, so a
  view never says "Train a model…" while a model is training or already trained.
- :func:`window_title`: the main window's title. Qt appends the application's display name
  ("… — FlowStudio") itself, so the title never holds the name again.
- :func:`metrics_caption`: the line over a metrics table, naming the temperature and the
  number of samples the numbers were computed at (a table is meaningless without them).
- :func:`training_clash`: the warning when a second run would start while one trains:
  both share the CPU cores, so each runs slower and both ETAs become wrong.
"""

from __future__ import annotations

from collections.abc import Sequence

NEEDS_MODEL = "Train a model (Train) or open a checkpoint (File > Open checkpoint…) to see this view."
TRAINING = (
    "Training… this view fills in with the trained model when the run stops "
    "(its live samples are on the Training tab)."
)
PAUSED = "Training is paused: this view fills in with the trained model when the run stops."
LOADING = "Loading the trained model…"


def view_placeholder(activity: str, has_model: bool, action: str = "") -> str:
    """An empty view's text for a run in ``activity`` (``idle``, ``running``, ``paused``,
    ``stopping``); ``has_model`` says a trained model is open; ``action`` names what
    computes the view once one is (e.g. "press Interpolate")."""
    if has_model:
        return f"Ready: {action} to compute this view." if action else LOADING
    if activity == "running":
        return TRAINING
    if activity == "paused":
        return PAUSED
    if activity == "stopping":
        return "Stopping after the current step; the trained model opens here next."
    return NEEDS_MODEL


def window_title(workspace: str, data: str | None, training: Sequence[str]) -> str:
    """``Point clouds · chair.ply — training (Molecules)``; never the application's name."""
    title = workspace + (f" · {data}" if data else "")
    if training:
        title += f" — training ({', '.join(training)})"
    return title


def metrics_caption(
    temperature: float, samples: int, model: str, step: int | None, bond_temperature: float | None = None
) -> str:
    """Which model, step, temperature (and bond temperature, where it differs) and sample
    count a metrics table was computed at."""
    at = f"{model}" + (f" at step {step:,}" if step is not None else "")
    bonds = f" (bonds {bond_temperature:g})" if bond_temperature not in (None, temperature) else ""
    return f"{at} · {samples:,} samples drawn at temperature T = {temperature:g}{bonds}"


def training_clash(starting: str, running: Sequence[str]) -> str:
    """The warning before a run of ``starting`` begins while ``running`` still train."""
    others = ", ".join(running)
    return (
        f"{others} is training: a second run would share the CPU cores, so both would run "
        f"slower and their ETAs would be wrong. Press Train again within a few seconds to start "
        f"the {starting} run anyway, or stop the other run first."
    )
