"""``flowstudio points arithmetic``: move a shape along the attribute vector between two groups.

    flowstudio points arithmetic --run RUN --from DIR_OR_NPZ --to DIR_OR_NPZ --shape PATH
                                 [--index I] [--strength S] [--steps K] [--points P] --out FILE

The attribute vector is the difference of the mean PointFlow latents of the ``--to`` and
``--from`` groups (:mod:`flowstudio.pointclouds.arithmetic`); the shape is decoded at
strength S, or at K strengths from 0 (its reconstruction) to S. Output files are written as
``points sample`` writes them (.npz/.npy hold every strength; .ply/.xyz one file each), and
their paths go to stdout.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from flowstudio.cli.common import DEVICES, check_out_file
from flowstudio.errors import BadInputError

MAX_STEPS = 64


def register(actions: argparse._SubParsersAction) -> None:
    """Add ``arithmetic`` to the ``points`` group."""
    p = actions.add_parser(
        "arithmetic",
        help="edit a shape along the latent difference between two groups of shapes (PointFlow)",
        description="Encode two groups of shapes with a PointFlow run, take the difference of their "
        "mean latents (to minus from) as an attribute vector, add it to a shape's latent at a "
        "strength and decode (Glow's attribute manipulation, Kingma & Dhariwal 2018).",
    )
    p.add_argument("--run", required=True, help="a PointFlow run folder written by 'points train'")
    p.add_argument("--from", dest="source", required=True, metavar="DIR_OR_NPZ",
                   help="the group without the attribute: a folder of shapes or a collection file")
    p.add_argument("--to", dest="target", required=True, metavar="DIR_OR_NPZ",
                   help="the group with the attribute")
    p.add_argument("--shape", required=True, metavar="PATH",
                   help="the shape to edit: a shape file, or a collection with --index")
    p.add_argument("--index", type=int, default=0, help="which shape of a --shape collection (default 0)")
    p.add_argument("--strength", type=float, default=1.0,
                   help="how far along the vector (default 1: the whole difference of the group means; "
                   "negative moves away from --to)")
    p.add_argument("--steps", type=int, default=1,
                   help=f"decode K strengths evenly from 0 to S (2 to {MAX_STEPS}; default 1: S only)")
    p.add_argument("--points", type=int, default=None, help="points per decoded shape (default: the shape's)")
    p.add_argument("--out", required=True, help="the file to write: .npz, .npy, .ply or .xyz")
    p.add_argument("--checkpoint", choices=("best", "latest"), default="best")
    p.add_argument("--seed", type=int, default=0, help="the point noise's seed (default 0)")
    p.add_argument("--device", choices=DEVICES, default="cpu")
    p.set_defaults(handler=run)


def _strengths(strength: float, steps: int) -> list[float]:
    if steps == 1:
        return [strength]
    if not 2 <= steps <= MAX_STEPS:
        raise BadInputError(f"--steps must be 1 to {MAX_STEPS}, got {steps}")
    return np.linspace(0.0, strength, steps).tolist()


def _group(path: str, flag: str) -> np.ndarray:
    from flowstudio.pointclouds.io import load

    if not Path(path).exists():
        raise BadInputError(f"{flag} {path}: no such file or folder")
    return load(path).points


def run(args: argparse.Namespace) -> int:
    from flowstudio.pointclouds.arithmetic import check_strengths, edit_shape
    from flowstudio.pointclouds.io import write_clouds, writer_for
    from flowstudio.training import Run, restore_task

    strengths = check_strengths(_strengths(args.strength, args.steps))
    if args.points is not None and args.points < 1:
        raise BadInputError(f"--points must be >= 1, got {args.points}")
    out = check_out_file(args.out, "edited.npz", writer_for)
    if not Path(args.run).is_dir():
        raise BadInputError(f"--run {args.run}: no such run folder")
    source, target = _group(args.source, "--from"), _group(args.target, "--to")
    shapes = _group(args.shape, "--shape")
    if not 0 <= args.index < len(shapes):
        raise BadInputError(f"--index {args.index}: {args.shape} holds {len(shapes)} shape(s)")
    task = restore_task(Run(args.run).checkpoint(args.checkpoint), kind="points", device=args.device).task
    edited = edit_shape(task, source, target, shapes[args.index], strengths, p=args.points, seed=args.seed)
    for path in write_clouds(out, edited):
        sys.stdout.write(f"{path}\n")
    return 0
