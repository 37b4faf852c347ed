"""What does a user's Stop cost GraphAF's sizes? The END calibration measured on stopped runs.

A run that spends its budget (``iters`` or ``minutes``) ends with the END step's size
calibration (:class:`flowstudio.molecules.calibration.EndCalibration`, three rounds of
2 x ``size_calibration`` of the model's own molecules); a run the user stops skips its final
stages, so its checkpoints carry no calibration. This script trains the quick preset with
the calibration off (what a Stop leaves), keeps the best checkpoint at two step counts, and
for each draws ``--n`` molecules at the preset's temperature before and after running the
calibration stage as the engine would, timing the stage. Sizes are compared with the
training molecules' by the Wasserstein-1 distance in heavy atoms (``mols eval``'s
``heavy_atoms`` W1) and the share at the model's size cap.

    flock /tmp/flowstudio-bench.lock python benchmarks/graphaf_stop_calibration.py \\
        --data ../shared/data/moses_train.csv.gz --out /tmp/graphaf-stop [--steps 150 400] [--n 1000]

Step counts, not minutes, fix the budgets, so the result does not depend on the load.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from scipy.stats import wasserstein_distance

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flowstudio.molecules.calibration import EndCalibration  # noqa: E402
from flowstudio.molecules.generate import generate  # noqa: E402
from flowstudio.molecules.settings import resolve  # noqa: E402
from flowstudio.molecules.task import FINAL_CALIBRATION_ROUNDS, MoleculeTask  # noqa: E402
from flowstudio.training.checkpoint import load_checkpoint  # noqa: E402
from flowstudio.training.stages import run_stage  # noqa: E402


def train(data: str, run: Path, steps: int, resume: bool) -> None:
    """The quick preset through the CLI, calibration off, to ``steps`` in all."""
    command = [sys.executable, "-m", "flowstudio", "mols", "train", "--out", str(run), "--iters", str(steps)]
    command += ["--resume"] if resume else ["--data", data, "--set", "size_calibration=0"]
    command += ["--set", "minutes=0", "--set", "samples_n=0"]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)


def sizes_line(task: MoleculeTask, n: int, seed: int) -> tuple[str, float]:
    model, ref = task.model, task._training_sizes()
    drawn = generate(model, n, temperature=task.values["temperature"], check=True, seed=seed)
    sizes = np.array([len(a) for a in drawn.atoms])
    cap = model.vocab.max_atoms
    w1 = float(wasserstein_distance(sizes, ref))
    line = f"mean atoms {sizes.mean():.2f} (training {ref.mean():.2f})  at the {cap}-atom cap "
    line += f"{np.mean(sizes >= cap):.1%} (training {np.mean(ref >= cap):.1%})  W1 {w1:.2f} atoms"
    return line, w1


def measure(checkpoint: Path, data: str, n: int, seed: int) -> None:
    saved = load_checkpoint(checkpoint, expect_kind="molecules")
    task = MoleculeTask.from_config(saved.config, data=data)
    task.model.load_state_dict(saved.model_state)
    task.load_extra_state(saved.extra_state)
    task.model.eval()
    assert not task.model.end_offset.any(), "the run was calibrated: not what a Stop leaves"
    print(f"{checkpoint} (step {saved.step}):")
    line, before = sizes_line(task, n, seed)
    print(f"  stopped, uncalibrated:  {line}", flush=True)
    calibration_n = 2 * int(resolve("quick")["size_calibration"])  # what the preset calibrates on
    temperature = task.values["temperature"]
    stage = EndCalibration(
        task.model, task._training_sizes(), calibration_n, temperature, FINAL_CALIBRATION_ROUNDS
    )
    start = time.perf_counter()
    for text in run_stage(stage):
        print(f"    {text}")
    seconds = time.perf_counter() - start
    line, after = sizes_line(task, n, seed)
    print(f"  after the final stage:  {line}")
    print(f"  the stage took {seconds:.1f} s ({FINAL_CALIBRATION_ROUNDS} x {calibration_n} molecules); "
          f"W1 {before:.2f} -> {after:.2f} atoms ({after / before:.2f}x)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="training molecules (the quick preset reads 20,000)")
    parser.add_argument("--out", type=Path, required=True, help="a folder for the run and its checkpoints")
    parser.add_argument("--steps", nargs="+", type=int, default=[150, 400])
    parser.add_argument("--n", type=int, default=2000, help="molecules drawn for each size comparison")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--measure-only", action="store_true", help="reuse the checkpoints kept in --out")
    args = parser.parse_args()
    torch.set_num_threads(1)  # as the engine trains and calibrates GraphAF on the CPU
    run = args.out / "run"
    kept = []
    for k, steps in enumerate(args.steps):
        keep = args.out / f"best-{steps}.pt"
        if not args.measure_only:
            start = time.perf_counter()
            train(args.data, run, steps, resume=k > 0)
            print(f"trained to step {steps} in {time.perf_counter() - start:.0f} s", flush=True)
            shutil.copy(run / "checkpoints" / "best.pt", keep)
        kept.append(keep)
    for keep in kept:
        measure(keep, args.data, args.n, args.seed)


if __name__ == "__main__":
    main()
