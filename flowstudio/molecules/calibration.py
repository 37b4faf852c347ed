"""Size calibration: make a GraphAF's samples end as often, at each size, as the data.

Teacher-forced, the END classifier is calibrated: on training molecules its probability of
ending after ``k`` atoms matches how often molecules of at least ``k`` atoms have exactly
``k``. On the model's *own* partial graphs it is not. A short-trained model's molecules
are less finished than the data's at the same size (fewer aromatic rings, more hydrogens),
so it ends them less often and they run on to ``max_atoms`` (*exposure bias*: training
never shows the model its own mistakes).

The fix treats the size like one-shot graph models do when they draw the number of atoms
from the training set's histogram, but keeps the model's own decision: a per-size offset
``b_k`` is added to the END logit when sampling. It is fitted on the model's samples by a
fixed-point iteration on the *hazards* (the chance to end at size ``k`` given size ``k`` was
reached, however the molecule ended):

    b_k <- b_k + logit h_data(k) - logit h_samples(k)

for every size that at least ``min_count`` samples reached. The training task takes three
such steps when the run's budget is spent, on the weights it keeps (:class:`EndCalibration`,
a final stage run by the engine, :mod:`flowstudio.training.stages`). An offset of 0
everywhere is the uncalibrated model; the likelihood never sees the offsets, and encoding
applies them as decoding does (:mod:`flowstudio.molecules.latent` stays exact).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from flowstudio.molecules.generate import generate
from flowstudio.molecules.graphaf import GraphAF
from flowstudio.molecules.settings import DEFAULT_TEMPERATURE
from flowstudio.task_types import StageStep

OFFSET_BOUND = 6.0
"""Largest calibration offset in logits (a factor of about 400 on the odds)."""


@dataclass(frozen=True)
class Calibration:
    """What one call of :func:`calibrate_end` measured: the share of samples at the size
    cap and the mean size before the last update, and the offsets after it."""

    drawn: int
    at_cap: float
    mean_size: float
    offsets: np.ndarray


def size_hazards(sizes: np.ndarray, max_atoms: int) -> tuple[np.ndarray, np.ndarray]:
    """``(hazard, reached)`` by size 0..max_atoms: ``reached[k]`` molecules have at least
    ``k`` atoms and ``hazard[k]`` is the share of them with exactly ``k`` (NaN where none)."""
    counts = np.bincount(np.clip(np.asarray(sizes, np.int64), 0, max_atoms), minlength=max_atoms + 1)
    reached = np.cumsum(counts[::-1])[::-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        hazard = np.where(reached > 0, counts / np.maximum(reached, 1), np.nan)
    return hazard, reached


def _logit(p: np.ndarray, reached: np.ndarray) -> np.ndarray:
    """Log-odds of hazards measured on ``reached`` molecules, kept half a molecule away
    from 0 and 1 (no ending among 40 molecules says "under 1/80", not "never")."""
    eps = 0.5 / np.maximum(reached, 1)
    p = np.clip(p, eps, 1 - eps)
    return np.log(p) - np.log1p(-p)


@torch.no_grad()
def calibrate_end(
    model: GraphAF,
    data_sizes: np.ndarray,
    n: int = 1000,
    temperature: float = DEFAULT_TEMPERATURE,
    rounds: int = 1,
    min_count: int = 30,
    seed: int | None = None,
) -> Calibration:
    """Update ``model.end_offset`` in place by ``rounds`` fixed-point steps, each on ``n``
    molecules drawn at ``temperature`` (with the valency check, as users sample).

    ``data_sizes`` are the heavy-atom counts of the training molecules. Sizes fewer than
    ``min_count`` samples reached keep their offsets (a hazard from a handful of molecules
    is noise). Models without an END classifier are left alone.
    """
    if model.stop_logit is None or n <= 0 or rounds <= 0:
        return Calibration(0, float("nan"), float("nan"), model.end_offset.cpu().numpy().copy())
    max_atoms = model.vocab.max_atoms
    target, data_reached = size_hazards(data_sizes, max_atoms)
    at_cap = mean_size = float("nan")
    for r in range(rounds):
        out = generate(model, n, temperature=temperature, check=True, seed=None if seed is None else seed + r)
        sizes = np.array([len(a) for a in out.atoms])
        at_cap, mean_size = float(np.mean(sizes >= max_atoms)), float(np.mean(sizes))
        hazard, reached = size_hazards(sizes, max_atoms)
        # The END step is first offered after one atom; at max_atoms a molecule must end.
        usable = (reached >= min_count) & (data_reached > 0) & ~np.isnan(target)
        usable[0] = usable[max_atoms] = False
        step = np.zeros(max_atoms + 1)
        step[usable] = _logit(target[usable], data_reached[usable]) - _logit(hazard[usable], reached[usable])
        offset = model.end_offset
        offset.add_(torch.as_tensor(step, dtype=offset.dtype, device=offset.device))
        offset.clamp_(-OFFSET_BOUND, OFFSET_BOUND)
    return Calibration(n * rounds, at_cap, mean_size, model.end_offset.cpu().numpy().copy())


class EndCalibration:
    """The molecule task's final stage (a :class:`~flowstudio.task_types.FinalStage`):
    ``rounds`` steps of :func:`calibrate_end`, each on ``n`` of the model's own samples drawn
    at ``temperature`` in eval mode. No gradients: the offsets are not parameters."""

    title = None
    lr = 0.0
    judged = True  # the likelihood is left as it is: a tie keeps the calibration
    on_stop = True  # an uncalibrated END step stops molecules at the size cap

    def __init__(
        self, model: GraphAF, data_sizes: np.ndarray, n: int, temperature: float, rounds: int
    ) -> None:
        self.model, self.sizes, self.n, self.temperature = model, data_sizes, n, temperature
        self.rounds, self.done = rounds, 0

    def parameters(self) -> list[torch.nn.Parameter]:
        return []

    def step(self) -> StageStep | None:
        if self.done >= self.rounds:
            return None
        was_training = self.model.training
        self.model.eval()
        try:
            report = calibrate_end(self.model, self.sizes, n=self.n, temperature=self.temperature)
        finally:
            self.model.train(was_training)
        self.done += 1
        cap, sizes = self.model.vocab.max_atoms, self.sizes
        return StageStep(
            line=f"END calibration {self.done}/{self.rounds}: {report.at_cap:.1%} of {report.drawn} samples "
            f"at the {cap}-atom cap (training set {np.mean(sizes >= cap):.1%}), mean "
            f"{report.mean_size:.1f} atoms ({sizes.mean():.1f})"
        )

    def summary(self) -> None:
        return None

    def abandon(self) -> str:  # never called: a calibration has no loss
        return "END calibration stopped"
