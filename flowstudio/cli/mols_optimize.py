"""``flowstudio mols optimize``: improve a property of molecules in GraphAF's latent space.

    flowstudio mols optimize --run RUN --data PATH --property qed|plogp|logp|sa|mw [--sim 0.4]
                             [--fit PATH] [--fit-molecules N] [--steps K] [--max-distance A]
                             [--scatter R] [--sigma S] --out FILE.csv

Fits the property's direction on encoded molecules (``--fit``, default the run's training
data), then for each start molecule of ``--data`` decodes candidates along it and keeps the
best one that improves the property at Tanimoto similarity >= ``--sim``
(:mod:`flowstudio.molecules.optimize`). Writes one CSV row per start and prints one JSON
object: success rate, mean improvement, the direction's fit. Values are the property's own;
improvements are signed so that positive is better (a lower SA for ``sa``).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import sys
from pathlib import Path

from flowstudio.errors import BadInputError
from flowstudio.params import DEVICES

MAX_STARTS = 100_000
COLUMNS = ("start", "start_value", "smiles", "value", "improvement", "similarity", "candidates", "valid")


def register(actions: argparse._SubParsersAction) -> None:
    """Add ``optimize`` to the ``mols`` group."""
    from flowstudio.molecules.optimize import PROPERTIES, Search

    defaults = Search()
    p = actions.add_parser(
        "optimize",
        help="improve a property of molecules within a similarity bound, in GraphAF's latent space",
        description="Fit a linear model of a property on encoded molecules (its direction in "
        "GraphAF's latent space), walk each start molecule along it with scattered candidates, "
        "and keep the best valid molecule that improves the property at Tanimoto similarity >= "
        "--sim (JT-VAE's and GraphAF's constrained optimization). Writes a CSV row per start and "
        "prints a JSON summary (success rate, mean improvement).",
    )
    p.add_argument("--run", required=True, help="a run folder written by 'mols train'")
    p.add_argument("--data", required=True, help="the start molecules (.smi/.txt, .csv, .sdf)")
    p.add_argument("--property", required=True, choices=tuple(PROPERTIES),
                   help="plogp: penalized logP (logP - SA - ring size beyond 6); sa is minimized")
    p.add_argument("--sim", type=float, default=0.4,
                   help="the smallest Tanimoto similarity to the start (0: unconstrained walk; default 0.4)")
    p.add_argument("--fit", help="molecules to fit the direction on (default: the run's training data)")
    p.add_argument("--fit-molecules", type=int, default=2000, help="at most this many (default 2000)")
    p.add_argument("--steps", type=int, default=defaults.steps, help="distances along the direction")
    p.add_argument("--max-distance", type=float, default=defaults.max_distance,
                   help="the farthest distance, in latent units")
    p.add_argument("--scatter", type=int, default=defaults.scatter,
                   help="extra candidates scattered around each distance")
    p.add_argument("--sigma", type=float, default=defaults.sigma, help="the scatter's noise scale")
    p.add_argument("--out", required=True, help="the CSV file to write")
    p.add_argument("--checkpoint", choices=("best", "latest"), default="best")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", choices=DEVICES, default="cpu")
    p.set_defaults(handler=run)


def _read(path: str, flag: str, limit: int):
    from rdkit import Chem

    from flowstudio.inputs import require_regular_file
    from flowstudio.molecules.io import read_molecules

    require_regular_file(path)
    molecules = read_molecules(path, limit=limit)
    if not len(molecules):
        raise BadInputError(f"{flag} {path}: no valid molecule")
    return [Chem.MolFromSmiles(s) for s in molecules.smiles]


def run(args: argparse.Namespace) -> int:
    from flowstudio.cli.mols import load_task
    from flowstudio.files import atomic_write
    from flowstudio.molecules.optimize import (
        PROPERTIES,
        Search,
        encodable,
        fit_direction,
        optimize,
        summarize,
    )

    if not (math.isfinite(args.sim) and 0 <= args.sim <= 1):
        raise BadInputError(f"--sim must be within [0, 1], got {args.sim}")
    if not 4 <= args.fit_molecules <= 1_000_000:
        raise BadInputError(f"--fit-molecules must be 4 to 1,000,000, got {args.fit_molecules}")
    search = Search(args.steps, args.max_distance, args.scatter, args.sigma)
    search.validate()
    out = Path(args.out)
    if out.suffix.lower() != ".csv":
        raise BadInputError(f"--out {out}: write a .csv file")
    if not out.parent.is_dir():
        raise BadInputError(f"--out {out}: the folder {out.parent} does not exist")
    starts = _read(args.data, "--data", MAX_STARTS)
    task = load_task(args.run, args.checkpoint, args.device)
    fit_path = args.fit or task.data_path
    if not fit_path:
        raise BadInputError("--fit is required: the run does not record its training data")
    model = task.model
    starts, skipped = encodable(model, starts)
    if skipped:
        sys.stderr.write(f"flowstudio: {len(skipped)} start molecule(s) the model cannot encode, "
                         f"left out (first: {skipped[0]})\n")
    if not starts:
        raise BadInputError(f"--data {args.data}: none of its molecules fits the model's vocabulary")
    fit, _ = encodable(model, _read(fit_path, "--fit", args.fit_molecules))
    direction = fit_direction(model, fit, args.property, seed=args.seed)
    results = optimize(model, starts, direction, args.sim, search, seed=args.seed)
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(COLUMNS)
    sign = 1.0 if PROPERTIES[args.property].higher_is_better else -1.0  # values, not scores
    for r in results:
        value = "" if r.value is None else sign * r.value
        similarity = "" if r.similarity is None else r.similarity
        writer.writerow([r.start, sign * r.start_value, r.smiles or "", value, r.improvement, similarity,
                         r.candidates, r.valid])
    with atomic_write(out) as stream:
        stream.write(text.getvalue().encode())
    summary = {
        "property": args.property, "sim": args.sim, **summarize(results),
        "fit_molecules": direction.n_molecules, "fit_r2": direction.r2_fit,
        "held_out_r2": direction.r2_held_out,
    }
    clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in summary.items()}
    sys.stdout.write(json.dumps(clean) + "\n")
    return 0
