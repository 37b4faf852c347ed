"""``flowstudio points score`` and ``flowstudio points diagnose``.

::

    flowstudio points score    --run RUN --data PATH --out FILE.csv [--points P] [--solver S] [--steps N]
    flowstudio points score    --run RUN --in PATH --out-of PATH      # {"auroc_<score>": ...} on stdout
    flowstudio points diagnose --run RUN [--data PATH]                # JSON on stdout

``score`` writes one CSV row per shape (name, points, every score of
:mod:`flowstudio.pointclouds.scores`); with an in-distribution and an out-of-distribution
set it prints the AUROC of each score instead. ``diagnose`` prints the invertibility
diagnostics of :mod:`flowstudio.pointclouds.diagnostics`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from flowstudio.cli.common import SCORE_WARNING, add_score_arguments, score_mode, write_csv
from flowstudio.errors import BadInputError
from flowstudio.params import DEVICES
from flowstudio.pointclouds.schema import SOLVERS

DEFAULT_SCORE_POINTS = 1024
"""Points of each shape scored: the mean per-point scores are estimates from this subset."""
MAX_SCORE_POINTS = 100_000


def register(actions: argparse._SubParsersAction) -> None:
    """Add ``score`` and ``diagnose`` to the ``points`` group."""
    from flowstudio.pointclouds.scores import SCORES

    p = actions.add_parser(
        "score", help="rank shapes by likelihood (CSV), or the AUROC of each score (JSON)",
        description="Score every shape of --data under a trained run and write one CSV row per shape: "
        + "; ".join(f"{name}: {text}" for name, text in SCORES.items())
        + ". With --in and --out-of instead, print one JSON object with the AUROC of each score "
        f"(auroc_<score>) at telling the two sets apart. {SCORE_WARNING}",
    )
    p.add_argument("--run", required=True, help="a run folder written by 'points train'")
    add_score_arguments(p, "shapes (.npz, .npy, a folder, or one shape file)")
    _add_model_arguments(p)
    p.add_argument("--points", type=int, default=DEFAULT_SCORE_POINTS,
                   help=f"points of each shape scored (default {DEFAULT_SCORE_POINTS})")
    p.set_defaults(handler=_score)

    p = actions.add_parser(
        "diagnose", help="invertibility diagnostics of a run as JSON",
        description="Check a run's flows in practice and print one JSON object: the round-trip error "
        "x -> z -> x on data and on samples (max, mean, worst offenders), log|det J| against the "
        "autograd Jacobian on a few points, local Lipschitz estimates of the forward and inverse maps, "
        "and flags with their reasons ('healthy' is true when there are none). CNFs are judged with "
        "the accurate solver (dopri5 at 1e-5); the round trip of the run's own sampler (or --solver/"
        "--steps) is reported beside it under 'sampler', as information: a few fixed steps are not "
        "exactly invertible, and that is not a fault of the model.",
    )
    p.add_argument("--run", required=True, help="a run folder written by 'points train'")
    p.add_argument("--data", help="shapes to check on (default: the run's held-out data, when readable)")
    _add_model_arguments(p)
    p.add_argument("--shapes", type=int, default=4, help="shapes of data and of samples checked (default 4)")
    p.add_argument("--points", type=int, default=256, help="points of each shape checked (default 256)")
    p.set_defaults(handler=_diagnose)


def _add_model_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--solver", choices=SOLVERS, default=None,
                   help="score: solve the point CNF with this solver (default dopri5 at 1e-5); diagnose: "
                   "the sampler whose round trip is reported beside the accurate judgement (default the "
                   "run's own)")
    p.add_argument("--steps", type=int, default=None, help="steps of a fixed-step solver (1 to 1000)")
    p.add_argument("--checkpoint", choices=("best", "latest"), default="best",
                   help="which checkpoint (default best, else latest)")
    p.add_argument("--seed", type=int, default=0, help="seeds point subsets, samples and ELBO draws")
    p.add_argument("--device", choices=DEVICES, default="cpu")


def _restore(args: argparse.Namespace) -> Any:
    from flowstudio.training import Run, restore_task

    if not Path(args.run).is_dir():
        raise BadInputError(f"--run {args.run}: no such run folder")
    return restore_task(Run(args.run).checkpoint(args.checkpoint), kind="points", device=args.device).task


@contextlib.contextmanager
def _solver(task: Any, solver: str | None, steps: int | None) -> Iterator[None]:
    from flowstudio.pointclouds.analyses import point_solver

    with point_solver(task.model, solver, steps):
        yield


def _read(flag: str, path: str, points: int, seed: int) -> Any:
    from flowstudio.pointclouds.io import read_collection

    if not Path(path).exists():
        raise BadInputError(f"{flag} {path}: no such file or folder")
    shapes = read_collection(path, n_points=points, seed=seed)
    if len(shapes) == 0:
        raise BadInputError(f"{flag} {path}: holds no usable shape")
    if shapes.skipped:
        sys.stderr.write(f"flowstudio: {flag} {path}: {shapes.report.summary()}\n")
    return shapes


def _score(args: argparse.Namespace) -> int:
    from flowstudio.flows.scoring import auroc_table
    from flowstudio.pointclouds.scores import reference_scores, score_shapes

    out = score_mode(args)
    if not 1 <= args.points <= MAX_SCORE_POINTS:
        raise BadInputError(f"--points must be between 1 and {MAX_SCORE_POINTS}, got {args.points}")
    solver = args.solver or (None if args.steps else "dopri5")
    task = _restore(args)
    with _solver(task, solver, args.steps):
        if out is not None:
            shapes = _read("--data", args.data, args.points, args.seed)
            scores = score_shapes(task, shapes.points, shapes.names, seed=args.seed)
            write_csv(out, scores.rows())
            sys.stdout.write(f"{out}\n")
            return 0
        inside = _read("--in", args.in_path, args.points, args.seed)
        outside = _read("--out-of", args.out_of, args.points, args.seed + 1)
        reference = reference_scores(task, args.points, seed=args.seed)
        a = score_shapes(task, inside.points, inside.names, reference=reference, seed=args.seed)
        b = score_shapes(task, outside.points, outside.names, reference=reference, seed=args.seed)
    result: dict[str, Any] = auroc_table(a.columns, b.columns)
    result.update(n_in=len(inside), n_out_of=len(outside), points=args.points)
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


def _diagnose(args: argparse.Namespace) -> int:
    from flowstudio.pointclouds.diagnostics import diagnose

    if not 1 <= args.shapes <= 64 or not 1 <= args.points <= 4096:
        raise BadInputError(
            f"--shapes must be 1 to 64 and --points 1 to 4096, got {args.shapes} and {args.points}"
        )
    task = _restore(args)
    shapes = _read("--data", args.data, args.points, args.seed) if args.data else None
    sampler = (args.solver, args.steps) if args.solver or args.steps else None
    report = diagnose(
        task, None if shapes is None else shapes.points, None if shapes is None else shapes.names,
        n_shapes=args.shapes, n_points=args.points, seed=args.seed, sampler=sampler,
    )
    sys.stdout.write(json.dumps(report) + "\n")
    return 0
