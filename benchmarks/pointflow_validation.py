"""Choose PointFlow settings on validation chairs, never on the test chairs.

The test protocol (``pointflow_matching.py``) holds out the first ``--test-shapes`` chairs
of a fixed permutation (seed 0). Tuning on them would make the test score optimistic, so
choices are made on the *next* 100 chairs of the same permutation instead:

* ``--write-split OUT.npz`` writes the tuning split: the same .npz format with both the
  test and the validation chairs marked ``test``, so a run trained on it
  (``flowstudio points train --data OUT.npz``) sees neither (675 of the 875 ModelNet chairs
  train);
* ``--run RUN`` scores a run's best checkpoint against the validation chairs only:
  100 samples of 2,048 points at each latent temperature ``L`` of ``--latent-temperatures``
  and point temperature ``P`` of ``--point-temperatures`` (latents and point noise drawn at
  ``L`` and ``P`` times their base spread, whatever the run was made with), one draw per
  sampling seed, compared on ``--points`` points by PointFlow's metrics (1-NNA-CD, COV-CD,
  MMD-CD). One JSON line per pair of temperatures, with the draws and their mean;
* ``--samplers rk4:2,rk4:4,dopri5`` scores the same weights with other solvers of the point
  CNF (``SOLVER:STEPS`` for fixed-step ones, ``SOLVER:STEPS^POWER`` with the steps placed
  as ``point_step_power`` places them; ``run``, the default, is the run's own), each line
  with the seconds the first draw's 100 x 2,048 points took.

Besides PointFlow's metrics, each line reports how *fuzzy* the shapes are, which 1-NNA-CD
and COV-CD see only indirectly (a blob of the right extent can be a chair's nearest
neighbour):

* ``thickness`` (the fuzziness number): the mean surface variation of the samples' points,
  ``λ3 / (λ1 + λ2 + λ3)`` of the covariance of each point's 16 nearest neighbours in its
  own cloud of 2,048 points (Pauly, Gross & Kobbelt 2002, "Efficient simplification of
  point-sampled surfaces"). It is 0 where the points lie on a plane or a line (a seat, a
  back, a thin leg, sampled exactly) and about 0.18 where they fill a ball (16 points
  scattered in 3-D; 1/3 in the limit of many), so it measures how
  far the points spray off the surfaces they draw: a leg drawn as a sparse spray or a
  seat drawn as a slab scores high, without reference to any particular chair.
  ``thickness_real`` is the real validation chairs' own (their surfaces are curved and
  meet at edges, so it is not 0): the value a sharp model approaches.
* ``stray`` (precision-style, cf. Kynkäänniemi et al. 2019, "Improved precision and
  recall"): the share of a sample's points farther than ``--stray-distance`` (0.1; the
  chairs span about -0.9 to 0.9 and a chair's own point spacing is 0.019) from every point
  of the validation chair nearest to that sample by Chamfer distance. It mixes fuzz with
  plain difference between chairs: 100 real training chairs score ``stray_real`` against
  the validation chairs (``--real-reference``).
* ``recon_spread``: how different the reconstructions of the 100 validation chairs are
  from each other (each encoded to its posterior mean and decoded, 1,024 points, sampling
  seed 0), as the mean Chamfer distance between two of them divided by the real chairs'
  own (1 when the decoder keeps the chairs as different as they are; session 9: 0.54, six
  chairs reconstructed as one shape). ``recon_cd`` is the mean Chamfer distance of each
  reconstruction to its own chair.

    python benchmarks/pointflow_validation.py --write-split RUNS/tuning.npz
    flowstudio points train --data RUNS/tuning.npz --out RUNS/a --preset quick --minutes 8
    python benchmarks/pointflow_validation.py --run RUNS/a --latent-temperatures 1.25,1.5

The data is read from ../shared/data (ModelNet, research use only) and never copied.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from pointflow_matching import CD_TILE_MB, DATA

from flowstudio.flows.cnf_control import solver_override
from flowstudio.pointclouds import analyses
from flowstudio.pointclouds.metrics import mmd_cov, one_nn_accuracy, pairwise_cd
from flowstudio.pointclouds.models import PointDensity
from flowstudio.pointclouds.pointflow import PointFlow
from flowstudio.training import Run, restore_task

TEST_SHAPES = 100
VAL_SHAPES = 100


def held_out(n: int, test_shapes: int = TEST_SHAPES) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the test chairs (``pointflow_matching.write_split``'s) and of the
    validation chairs after them in the same permutation."""
    order = np.random.default_rng(0).permutation(n)
    return order[:test_shapes], order[test_shapes : test_shapes + VAL_SHAPES]


def write_tuning_split(data: Path, out: Path) -> None:
    """The collection with the test and the validation chairs both marked ``test``."""
    points = np.load(data)["points"].astype(np.float32)
    split = np.array(["train"] * len(points), dtype="<U5")
    split[np.concatenate(held_out(len(points)))] = "test"
    np.savez(out, points=points, split=split)


def mean_off_diagonal(d: torch.Tensor) -> float:
    """The mean of a square distance matrix's entries off its diagonal."""
    return float(d[~torch.eye(len(d), dtype=torch.bool)].mean())


def stray_share(clouds: np.ndarray, refs: np.ndarray, nearest: np.ndarray, distance: float) -> float:
    """The share of the points of ``clouds`` (S, P, 3) farther than ``distance`` from every
    point of their own nearest reference, ``refs[nearest[i]]`` (R, Q, 3), averaged over S."""
    shares = [
        (torch.cdist(torch.as_tensor(c), torch.as_tensor(refs[j])).amin(1) > distance).float().mean()
        for c, j in zip(clouds, nearest, strict=True)
    ]
    return float(torch.stack(shares).mean())


def thickness(clouds: np.ndarray, neighbours: int = 16) -> float:
    """The mean surface variation ``λ3 / (λ1 + λ2 + λ3)`` of the ``neighbours`` nearest
    points (each point's own included) of every point of ``clouds`` (S, P, 3) in its own
    cloud (module docstring)."""
    values = []
    for cloud in torch.as_tensor(clouds, dtype=torch.float32):
        near = torch.cdist(cloud, cloud).topk(neighbours, largest=False).indices
        local = cloud.double()[near]  # (P, k, 3)
        centred = local - local.mean(1, keepdim=True)
        eig = torch.linalg.eigvalsh(centred.transpose(1, 2) @ centred)  # ascending
        values.append((eig[:, 0] / eig.sum(1).clamp_min(1e-12)).mean())
    return float(torch.stack(values).mean())


def real_reference(all_points: np.ndarray, val: np.ndarray, points: int, stray_distance: float) -> dict:
    """What 100 real training chairs of the tuning split (the next 100 of the permutation,
    neither test nor validation) score against the validation chairs: COV-CD, MMD-CD and
    the stray share, a floor for the models', and the validation chairs' own thickness
    (module docstring)."""
    real = all_points[
        np.random.default_rng(0).permutation(len(all_points))[TEST_SHAPES + VAL_SHAPES :][:VAL_SHAPES]
    ]
    keep = np.random.default_rng(1).choice(val.shape[1], points, replace=False)
    d_sr = pairwise_cd(real[:, keep], val[:, keep], memory_mb=CD_TILE_MB)
    mmd, cov = mmd_cov(d_sr)
    stray = stray_share(real[:, keep], val, d_sr.argmin(1).numpy(), stray_distance)
    return {
        "reference": "100 real training chairs",
        "COV-CD": round(cov, 3),
        "MMD-CD": round(float(mmd), 5),
        "stray_real": round(stray, 4),
        "thickness_real": round(thickness(val), 4),
        "spread_real": round(mean_off_diagonal(pairwise_cd(val[:, keep], memory_mb=CD_TILE_MB)), 5),
    }


def sampler(text: str) -> tuple[str | None, int | None, float | None]:
    """``run`` (the run's own solver), ``SOLVER`` (adaptive), ``SOLVER:STEPS`` (even steps)
    or ``SOLVER:STEPS^POWER`` (the steps at ``T (k / n)^POWER``, ``point_step_power``)."""
    if text == "run":
        return None, None, None
    solver, _, rest = text.partition(":")
    steps, _, power = rest.partition("^")
    if not steps:
        return solver, None, None
    return solver, int(steps), float(power) if power else 1.0


@contextlib.contextmanager
def step_power(model: PointDensity, power: float | None) -> Iterator[None]:
    """The point CNF's fixed steps placed by ``power`` inside the block (None: the run's)."""
    if power is None:
        yield
        return
    with solver_override(model.point_flow, step_power=power):
        yield


def score(
    run: Path,
    val: np.ndarray,
    pairs: list[tuple[float, float]],
    seeds: list[int],
    points: int,
    samplers: tuple[str, ...] = ("run",),
    stray_distance: float = 0.1,
) -> None:
    """Print one JSON line per sampler and (latent, point) temperature pair: each seed's
    draw, their mean, the seconds the first draw took and the fuzziness measures (module
    docstring; the reconstructions' at P only, with each sampler)."""
    task = restore_task(Run(run).checkpoint("best"), kind="points", device="cpu").task
    model = task.model
    assert isinstance(model, PointFlow)
    model.eval()
    # the temperatures asked for are the effective ones
    model.config.latent_temperature = model.config.point_temperature = 1.0
    keep = np.random.default_rng(1).choice(val.shape[1], points, replace=False)
    d_rr = pairwise_cd(val[:, keep], memory_mb=CD_TILE_MB)
    latents = analyses.encode(task, val)
    for (latent_temperature, point_temperature), name in (
        (pair, name) for name in samplers for pair in pairs
    ):
        solver, steps, power = sampler(name)
        rows, seconds = [], []
        for seed in seeds:
            torch.manual_seed(seed)
            start = time.perf_counter()
            with torch.no_grad():
                latent = model.sample_latent(len(val), latent_temperature)
            # with the latents given, the draw's temperature scales the point noise alone
            with step_power(model, power):
                samples = analyses.sample(
                    task, len(val), 2048, point_temperature, seed=seed, latent=latent,
                    solver=solver, steps=steps,
                )
            seconds.append(time.perf_counter() - start)
            full, samples = samples, samples[:, keep]
            d_sr = pairwise_cd(samples, val[:, keep], memory_mb=CD_TILE_MB)
            mmd, cov = mmd_cov(d_sr)
            nna = one_nn_accuracy(d_rr, d_sr.T, pairwise_cd(samples, memory_mb=CD_TILE_MB))
            stray = stray_share(samples, val, d_sr.argmin(1).numpy(), stray_distance)
            rows.append((nna, cov, float(mmd), stray, thickness(full)))
        r = np.array(rows)
        with step_power(model, power):
            recon = analyses.sample(
                task, len(val), points, point_temperature, seed=0, latent=latents, solver=solver, steps=steps
            )
        recon_spread = mean_off_diagonal(pairwise_cd(recon, memory_mb=CD_TILE_MB)) / mean_off_diagonal(d_rr)
        recon_cd = float(torch.diagonal(pairwise_cd(recon, val[:, keep], memory_mb=CD_TILE_MB)).mean())
        print(
            json.dumps(
                {
                    "run": str(run),
                    "sampler": name,
                    "sample_s": round(seconds[0], 2),
                    "latent_temperature": latent_temperature,
                    "point_temperature": point_temperature,
                    "1-NNA-CD": r[:, 0].round(3).tolist(),
                    "COV-CD": r[:, 1].round(2).tolist(),
                    "thickness": r[:, 4].round(4).tolist(),
                    "stray": r[:, 3].round(4).tolist(),
                    "mean": {
                        "1-NNA-CD": round(float(r[:, 0].mean()), 3),
                        "COV-CD": round(float(r[:, 1].mean()), 3),
                        "MMD-CD": round(float(r[:, 2].mean()), 5),
                        "thickness": round(float(r[:, 4].mean()), 4),
                        "stray": round(float(r[:, 3].mean()), 4),
                    },
                    "recon_spread": round(recon_spread, 3),
                    "recon_cd": round(recon_cd, 5),
                }
            ),
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--write-split", type=Path, default=None, help="write the tuning split here")
    parser.add_argument("--run", type=Path, action="append", default=[], help="a run to score (repeatable)")
    parser.add_argument("--latent-temperatures", default="1.0,1.25,1.5")
    parser.add_argument("--point-temperatures", default="1.0")
    parser.add_argument("--seeds", default="0,1,2", help="one draw of 100 samples per seed")
    parser.add_argument("--points", type=int, default=1024, help="points a cloud compared")
    parser.add_argument(
        "--samplers", default="run", help="point-CNF solvers: run, SOLVER or SOLVER:STEPS, comma-separated"
    )
    parser.add_argument(
        "--stray-distance", type=float, default=0.1, help="how far a point may lie from its nearest chair's"
    )
    parser.add_argument("--real-reference", action="store_true", help="score 100 real training chairs too")
    args = parser.parse_args()
    if args.write_split:
        write_tuning_split(args.data, args.write_split)
    if args.run:
        all_points = np.load(args.data)["points"].astype(np.float32)
        val = all_points[held_out(len(all_points))[1]]
        if args.real_reference:
            print(json.dumps(real_reference(all_points, val, args.points, args.stray_distance)), flush=True)
        pairs = [
            (float(lt), float(pt))
            for lt in args.latent_temperatures.split(",")
            for pt in args.point_temperatures.split(",")
        ]
        for run in args.run:
            score(
                run,
                val,
                pairs,
                [int(x) for x in args.seeds.split(",")],
                args.points,
                tuple(args.samplers.split(",")),
                args.stray_distance,
            )


if __name__ == "__main__":
    main()
