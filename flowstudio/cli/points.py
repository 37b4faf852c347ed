"""``flowstudio points …``: train, sample and evaluate point clouds headless.

::

    flowstudio points train  --data PATH --out RUN
                             [--model pointflow|cnf|realnvp|glow|maf|nsf|nsf_ar|nice|planar]
                             [--preset quick|full] [--iters N] [--minutes M] [--device auto|cpu|cuda]
                             [--seed S] [--resume] [--set key=value ...]
    flowstudio points sample --run RUN --shapes K --points P [--temperature T] [--solver S] [--steps N]
                             --out FILE
    flowstudio points eval   --samples FILE --ref PATH [--split test]
    flowstudio points score  --run RUN --data PATH --out FILE.csv | --in PATH --out-of PATH
    flowstudio points diagnose --run RUN [--data PATH]
    flowstudio points arithmetic --run RUN --from DIR_OR_NPZ --to DIR_OR_NPZ --shape PATH
                             [--strength S] [--steps K] --out FILE
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from flowstudio.cli import points_arithmetic, points_eval, points_score
from flowstudio.cli.common import (
    add_run_arguments,
    check_out_file,
    check_out_folder,
    overrides_from_args,
    resumed_task_config,
)
from flowstudio.errors import BadInputError
from flowstudio.params import DEVICES
from flowstudio.pointclouds.schema import SOLVERS
from flowstudio.pointclouds.settings import BY_NAME, MODELS, PRESETS, keys_by_models, refuse_unread


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``points`` command group to the top-level parser."""
    group = sub.add_parser("points", help="train, sample and evaluate point clouds")
    actions = group.add_subparsers(dest="command", metavar="ACTION")
    _register_train(actions)
    _register_sample(actions)
    points_eval.register(actions)
    points_score.register(actions)
    points_arithmetic.register(actions)


def _register_train(actions: argparse._SubParsersAction) -> None:
    p = actions.add_parser(
        "train", help="train a point-cloud model into a run folder",
        description="Train PointFlow on a collection of shapes, or a single-shape density (cnf or a "
        "discrete flow) on one shape. The run folder receives config.json, checkpoints/latest.pt "
        "and best.pt, and metrics.jsonl. Every hyperparameter can be set with --set key=value; "
        f"a model reads only its own keys, which are, by model: {keys_by_models()}.",
    )
    p.add_argument("--data", help="a collection (.npz with 'points' (N, P, 3), folder, .npy) or one "
                   "shape (mesh or point file); with --resume, defaults to the run's data")
    p.add_argument("--out", required=True, help="the run folder")
    p.add_argument("--model", choices=MODELS, help="the model (default pointflow)")
    p.add_argument("--preset", choices=PRESETS, help="quick (CPU, minutes) or full (the paper's sizes, "
                   "GPU); default quick")
    add_run_arguments(p, "kinetic_weight=0.01", BY_NAME)
    p.set_defaults(handler=_train)


def _register_sample(actions: argparse._SubParsersAction) -> None:
    p = actions.add_parser(
        "sample", help="sample point clouds from a trained run",
        description="Draw new point clouds from a run's best checkpoint (or latest) and write them in "
        "the training data's own frame: .npy/.npz hold all shapes; .ply/.xyz hold one shape, so "
        "several shapes go to FILE_000.ply, FILE_001.ply, ...",
    )
    p.add_argument("--run", required=True, help="a run folder written by 'points train'")
    p.add_argument("--shapes", type=int, default=1, help="number of point clouds K (default 1)")
    p.add_argument("--points", type=int, default=2048, help="points per cloud P (default 2048)")
    p.add_argument("--temperature", type=float, default=1.0, help="scale of the base noise (default 1)")
    p.add_argument("--solver", choices=SOLVERS, default=None,
                   help="solve the point CNF with this solver instead of the run's own (dopri5: accurate)")
    p.add_argument("--steps", type=int, default=None,
                   help="steps of a fixed-step solver (1 to 1000; with no --solver, rk4): fewer is faster, "
                   "more is closer to the accurate solve; placed as the run's point_step_power places them")
    p.add_argument("--out", required=True, help="the file to write: .ply, .xyz, .npy or .npz")
    p.add_argument("--checkpoint", choices=("best", "latest"), default="best",
                   help="which checkpoint to sample from (default best, else latest)")
    p.add_argument("--seed", type=int, default=None, help="make the samples repeatable")
    p.add_argument("--device", choices=DEVICES, default="cpu")
    p.set_defaults(handler=_sample)


def _train(args: argparse.Namespace) -> int:
    from flowstudio.cli.progress import run_training
    from flowstudio.pointclouds.task import PointCloudTask
    from flowstudio.training import TrainOptions

    overrides = overrides_from_args(args, BY_NAME, ("iters", "minutes", "device", "seed"))
    check_out_folder(args.out)
    if args.resume:
        task_config = resumed_task_config(args.out, "points", overrides, BY_NAME)
        if args.model and args.model != task_config.get("model_name"):
            raise BadInputError(
                f"{args.out}: holds a {task_config.get('model_name')!r} run, not {args.model!r}"
            )
        task = PointCloudTask.from_config(task_config, data=args.data)
    else:
        if not args.data:
            raise BadInputError("--data is required (the shapes to train on)")
        if not Path(args.data).exists():
            raise BadInputError(f"--data {args.data}: no such file or folder")
        refuse_unread(args.model or "pointflow", overrides)
        task = PointCloudTask(args.data, args.model or "pointflow", args.preset or "quick", overrides)
    data = args.data or task.data_path
    task.data_report.refuse_if_strict(data, args.strict)
    sys.stderr.write(f"data: {data} ({task.data_report.summary()})\n")
    return run_training(task, args.out, TrainOptions.from_values(task.values, resume=args.resume))


def _sample(args: argparse.Namespace) -> int:
    from flowstudio.pointclouds import analyses
    from flowstudio.pointclouds.io import write_clouds, writer_for
    from flowstudio.training import Run, restore_task

    if args.shapes < 1 or args.points < 1:
        raise BadInputError(f"--shapes and --points must be >= 1, got {args.shapes} and {args.points}")
    if not (math.isfinite(args.temperature) and args.temperature >= 0):
        raise BadInputError(f"--temperature must be a finite number >= 0, got {args.temperature}")
    if args.seed is not None:
        BY_NAME["seed"].validate(args.seed)
    out = check_out_file(args.out, "samples.npz", writer_for)
    if not Path(args.run).is_dir():
        raise BadInputError(f"--run {args.run}: no such run folder")
    task = restore_task(Run(args.run).checkpoint(args.checkpoint), kind="points", device=args.device).task
    points = analyses.sample(
        task, args.shapes, args.points, args.temperature, seed=args.seed, solver=args.solver, steps=args.steps
    )
    for path in write_clouds(out, points):
        sys.stdout.write(f"{path}\n")
    return 0
