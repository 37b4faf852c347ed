"""The ``full`` presets on a lent GPU machine: one kind per device call, prepared here.

A session that is lent a GPU has 15 minutes of device time in all and at most 10 minutes a
command, and the machine starts bare (PyTorch and torchdiffeq are there, RDKit is not) with
nothing but the working tree and the carried paths. So the run is prepared on this machine
and the device call only trains:

1. here: ``python benchmarks/device_full.py prepare points|molecules`` writes the data
   into ``.device/`` (ignored by git, carried): the chairs with PointFlow's held-out split
   (``benchmarks/pointflow_matching.py``'s split: seed 0, 100 test chairs), or the MOSES
   training file without the 5,000 test molecules and the 6,000 validation molecules (given
   with ``--exclude``), and for molecules RDKit's wheel for the device's Python in ``.whl/``;
2. the device call (``run`` carrying only what the kind needs, since the working tree and
   the carried paths may not pass 64 MiB: ``[".device/chairs_split.npz"]`` for points,
   ``[".device/moses_train.csv.gz", ".whl"]`` for molecules, plus ``.device/run-KIND``
   to resume)::

       bash benchmarks/device_full.sh points 8

   runs the CUDA tests, then trains the preset for the minutes given through the library
   (since session 14 ``flowstudio points train`` also runs without RDKit) and copies ``best.pt``, the
   metrics and the log to ``$OUT``; a run folder already in ``.device/`` is resumed, so a
   20- or 30-minute run can be split over sessions (bring ``latest.pt`` back by hand);
3. here: score ``best.pt`` on the CPU as the quick preset is scored
   (``benchmarks/pointflow_matching.py --score-only``, ``flowstudio mols sample`` then
   ``mols eval``). A point CNF trained this long may be sharp enough for its 8 even RK4
   steps to blur it, as they blur a single chair (results/pointflow-matching.md section
   16): compare its samples' thickness with even steps, at ``point_step_power`` 2 and
   with dopri5 before judging the shapes (``pointflow_validation.py --run RUN --samplers
   rk4:8,rk4:8^2,dopri5``; read only its thickness there, since its validation chairs are
   among the chairs this split trains on).

    python benchmarks/device_full.py train points --minutes 8 --out .device/run-points
"""

from __future__ import annotations

import argparse
import gzip
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEVICE = ROOT / ".device"
SHARED = ROOT.parent / "shared" / "data"


def prepare(kind: str, exclude: list[Path]) -> None:
    """Write what the device call reads into ``.device/`` (and ``.whl/`` for RDKit)."""
    DEVICE.mkdir(exist_ok=True)
    if kind == "points":
        sys.path.insert(0, str(ROOT / "benchmarks"))
        from pointflow_matching import write_split

        train, test = write_split(SHARED / "modelnet_chair_train_2048.npz", 100, DEVICE / "chairs_split.npz")
        print(f"chairs: {len(train)} training, {len(test)} held out -> {DEVICE / 'chairs_split.npz'}")
        return
    held_out = set()
    for path in exclude:
        held_out.update(line.split()[0] for line in path.read_text().splitlines() if line.strip())
    kept = 0
    source, target = SHARED / "moses_train.csv.gz", DEVICE / "moses_train.csv.gz"
    with gzip.open(source, "rt") as src, gzip.open(target, "wt") as dst:
        for number, line in enumerate(src):
            if number and line.split(",")[0].strip() in held_out:
                continue
            dst.write(line)
            kept += number > 0
    print(f"MOSES: {kept} molecules kept, {len(held_out)} held out -> {DEVICE / 'moses_train.csv.gz'}")
    import rdkit

    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--python-version",
         "3.12", "--implementation", "cp", "--platform", "manylinux_2_28_x86_64", "-d", str(ROOT / ".whl"),
         f"rdkit=={rdkit.__version__}"],
        check=True,
    )


def train(kind: str, minutes: float, out: Path, device: str) -> int:
    """Train the ``full`` preset of ``kind`` on the prepared data (resuming ``out`` if it
    holds a run), with the CLI's progress display."""
    from flowstudio.cli.progress import run_training
    from flowstudio.training import TrainOptions

    resume = (out / "checkpoints" / "latest.pt").is_file()
    overrides = {"minutes": minutes, "device": device, "seed": 0}
    if kind == "points":
        from flowstudio.pointclouds.task import PointCloudTask

        task = PointCloudTask(str(DEVICE / "chairs_split.npz"), "pointflow", "full", overrides)
    else:
        from flowstudio.molecules.task import MoleculeTask

        task = MoleculeTask(str(DEVICE / "moses_train.csv.gz"), "full", overrides)
    print(f"data: {task.data_report.summary()}; resume: {resume}", flush=True)
    return run_training(task, out, TrainOptions.from_values(task.values, resume=resume), live=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="action", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("kind", choices=("points", "molecules"))
    p.add_argument("--exclude", type=Path, nargs="*", default=[], help="SMILES files held out of training")
    t = sub.add_parser("train")
    t.add_argument("kind", choices=("points", "molecules"))
    t.add_argument("--minutes", type=float, required=True)
    t.add_argument("--out", type=Path, required=True)
    t.add_argument("--device", default="cuda")
    args = parser.parse_args()
    if args.action == "prepare":
        prepare(args.kind, args.exclude)
    else:
        sys.exit(train(args.kind, args.minutes, args.out, args.device))


if __name__ == "__main__":
    main()
