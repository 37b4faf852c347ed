"""One training step and one sampling solve at PointFlow's paper sizes, by objective.

PointFlow's sizes (Yang et al. 2019, supplement): a 128-d shape latent, a 128-128-256-512
PointNet encoder, a 256-256 latent CNF and a 512-512-512 point CNF, here on a batch of 16
shapes x 2,048 points. The likelihood step is the ``full`` preset as shipped (dopri5 at
1e-5 with the adjoint, moving batch norm, a learned T, RNODE, the exact trace in 3-D);
the flow-matching step is the same network trained by flow matching (one CNF block, no
batch norm, T fixed). Both start from the same seed, untrained: the likelihood step's
cost grows as training makes the field less trivial, so its time here is a lower bound.

Sampling 16 x 2,048 points with dopri5 at 1e-5 is timed on the same weights twice: the
state alone (how FlowStudio samples now) and the state with its exact divergence (how it
sampled before: ``Transform.inverse`` also returns the log-determinant).

    python benchmarks/pointflow_matching_speed.py --likelihood-steps 1 --matching-steps 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import numpy as np
import torch
from pointflow_matching import dopri5_sampling  # benchmarks/ is the script's folder

from flowstudio.flows.cnf_control import count_nfe, reset_nfe
from flowstudio.pointclouds.task import PointCloudTask

SHAPES, POINTS = 16, 2048


def step_seconds(task: PointCloudTask, steps: int) -> tuple[list[float], int]:
    """Seconds of each optimization step (forward, backward, update) and the NFE of the last."""
    optimizer = torch.optim.Adam(task.model.parameters(), lr=1e-4)
    times = []
    for step in range(steps):
        started = time.perf_counter()
        reset_nfe(task.model)
        loss = task.training_step(step)["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - started)
    forward, backward = count_nfe(task.model)
    return times, forward + backward


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--likelihood-steps", type=int, default=1)
    parser.add_argument("--matching-steps", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    shapes = rng.normal(size=(40, POINTS, 3)).astype(np.float32)
    shapes /= np.linalg.norm(shapes, axis=-1, keepdims=True)  # spheres: the cost does not depend on them
    sizes = {"batch_size": SHAPES, "train_points": POINTS, "seed": 0}
    likelihood = PointCloudTask(shapes, "pointflow", "full", sizes)
    matching = PointCloudTask(shapes, "pointflow", "full",
                              {**sizes, "objective": "flow_matching", "batch_norm": False})
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cpus", flush=True)
    rows = {}
    for name, task, steps in (("flow_matching", matching, args.matching_steps),
                              ("likelihood", likelihood, args.likelihood_steps)):
        times, nfe = step_seconds(task, steps)
        rows[name] = {"step_s_median": statistics.median(times), "steps": steps, "nfe": nfe}
        print(name, json.dumps(rows[name]), flush=True)
    likelihood.model.eval()
    with torch.no_grad():  # the full preset's own solver is dopri5 at 1e-5
        rows["sampling"] = dopri5_sampling(likelihood.model, seed=0)
    print("sampling", json.dumps(rows["sampling"]), flush=True)
    ratio = rows["likelihood"]["step_s_median"] / rows["flow_matching"]["step_s_median"]
    sample_ratio = rows["sampling"]["dopri5_with_divergence_s"] / rows["sampling"]["dopri5_state_s"]
    print(f"| step (16 x 2048, paper sizes) | likelihood {rows['likelihood']['step_s_median']:.1f} s "
          f"(NFE {rows['likelihood']['nfe']}) | flow matching {rows['flow_matching']['step_s_median']:.2f} s "
          f"| {ratio:.0f}x |")
    sampling = rows["sampling"]
    print(f"| dopri5 sampling 16 x 2048 | with divergence {sampling['dopri5_with_divergence_s']:.1f} s "
          f"| state alone {sampling['dopri5_state_s']:.1f} s | {sample_ratio:.1f}x |")


if __name__ == "__main__":
    main()
