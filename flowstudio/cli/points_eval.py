"""``flowstudio points eval``: metrics of sampled point clouds as one JSON object on stdout.

    flowstudio points eval --samples samples.npz --ref data.npz [--split test] [--emd-points 256]

Prints ``{"MMD-CD": …, "COV-CD": …, "1-NNA-CD": …, "MMD-EMD": …, "COV-EMD": …,
"1-NNA-EMD": …, "n_samples": …, "n_ref": …, "n_points": …, "n_ref_points": …,
"emd_points": …, "split": …}``
(PointFlow's protocol, see :mod:`flowstudio.pointclouds.metrics`). Samples and references
are compared as they are stored: samples written by ``flowstudio points sample`` are in
the training data's frame, like the references.
"""

from __future__ import annotations

import argparse
import json
import math
import sys

from flowstudio.errors import BadInputError

SPLITS = ("auto", "test", "train", "all")


MAX_EVAL_POINTS = 100_000
"""Points per shape the metrics accept (the Chamfer matrices are tiled; the clouds are not)."""
MAX_EMD_POINTS = 2048
"""The exact EMD's largest subsample: PointFlow's own protocol scores 2048-point clouds."""


def register(actions: argparse._SubParsersAction) -> None:
    """Add ``eval`` to the ``points`` group."""
    from flowstudio.pointclouds.io import DEFAULT_COLLECTION_POINTS
    from flowstudio.pointclouds.metrics import DEFAULT_EMD_POINTS

    p = actions.add_parser(
        "eval",
        help="MMD / COV / 1-NNA (CD and EMD) of samples against reference shapes, as JSON",
        description="Evaluate generated point clouds against reference shapes with PointFlow's "
        "protocol and print one JSON object (MMD-CD, COV-CD, 1-NNA-CD, MMD-EMD, COV-EMD, 1-NNA-EMD).",
    )
    p.add_argument(
        "--samples", required=True, metavar="FILE", help="generated shapes: .npz/.npy (N,P,3) or a folder"
    )
    p.add_argument(
        "--ref", required=True, metavar="PATH", help="reference shapes: .npz with split, .npy, or a folder"
    )
    p.add_argument(
        "--split",
        choices=SPLITS,
        default="auto",
        help="which reference shapes to use: auto = 'test' when the reference has a split, else all",
    )
    p.add_argument(
        "--points",
        type=int,
        default=None,
        metavar="P",
        help="resample every shape to P points (default: as stored; folders of files and "
        f"meshes give {DEFAULT_COLLECTION_POINTS})",
    )
    p.add_argument(
        "--emd-points",
        type=int,
        default=DEFAULT_EMD_POINTS,
        metavar="N",
        help=f"points per shape for the exact EMD (default {DEFAULT_EMD_POINTS}; 0 skips EMD)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="W",
        help="processes for the EMD assignments (default: automatic, up to 8 for large jobs)",
    )
    p.add_argument("--device", default="cpu", help="where to compute the Chamfer matrices: cpu, cuda, auto")
    p.add_argument("--seed", type=int, default=0, help="seeds the point subsets")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from flowstudio.pointclouds.io import read_collection
    from flowstudio.pointclouds.metrics import evaluate
    from flowstudio.training.device import select_device

    if args.points is not None and not 1 <= args.points <= MAX_EVAL_POINTS:
        raise BadInputError(f"--points must be between 1 and {MAX_EVAL_POINTS}, got {args.points}")
    if not 0 <= args.emd_points <= MAX_EMD_POINTS:
        raise BadInputError(
            f"--emd-points must be between 0 and {MAX_EMD_POINTS} (an exact assignment costs n^3), "
            f"got {args.emd_points}"
        )
    device = str(select_device(args.device))  # an unknown or absent device is bad input

    samples = read_collection(args.samples, n_points=args.points, seed=args.seed)
    ref = read_collection(args.ref, n_points=args.points, seed=args.seed + 1)
    split = args.split
    if split == "auto":
        split = "test" if ref.split is not None else "all"
    if split != "all":
        if ref.split is None:
            raise BadInputError(
                f"{args.ref}: has no 'split', so --split {split} cannot apply (use --split all)"
            )
        ref = ref.subset(split)
        if len(ref) == 0:
            raise BadInputError(f"{args.ref}: no reference shapes in split {split!r}")
    for flag, collection in (("--samples", samples), ("--ref", ref)):
        if collection.skipped:
            sys.stderr.write(f"flowstudio: {flag} {collection.source}: {collection.report.summary()}\n")

    scores = evaluate(
        samples.points,
        ref.points,
        emd_points=args.emd_points,
        device=device,
        seed=args.seed,
        emd_workers=args.workers,
    )
    out = dict(scores)
    out.update(
        n_samples=len(samples),
        n_ref=len(ref),
        n_points=int(samples.points.shape[1]),
        n_ref_points=int(ref.points.shape[1]),
        emd_points=args.emd_points,
        split=split,
    )
    for key, value in out.items():  # strict JSON has no NaN/Infinity: say so, print null
        if isinstance(value, float) and not math.isfinite(value):
            sys.stderr.write(f"flowstudio: warning: {key} is not finite (coordinates too large?)\n")
            out[key] = None
    sys.stdout.write(json.dumps(out, allow_nan=False) + "\n")
    return 0
