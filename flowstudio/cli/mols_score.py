"""``flowstudio mols score`` and ``flowstudio mols diagnose``.

::

    flowstudio mols score    --run RUN --data PATH --out FILE.csv
    flowstudio mols score    --run RUN --in PATH --out-of PATH      # {"auroc_<score>": ...} on stdout
    flowstudio mols diagnose --run RUN [--data PATH] [--molecules N] # JSON on stdout

``score`` writes one CSV row per molecule (SMILES, name, heavy atoms, every score of
:mod:`flowstudio.molecules.scores`, and why a molecule has probability zero when it has), or
with an in- and an out-of-distribution set the AUROC of each score. ``diagnose`` prints the
invertibility diagnostics of :mod:`flowstudio.molecules.diagnostics`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from flowstudio.cli.common import SCORE_WARNING, add_score_arguments, score_mode, write_csv
from flowstudio.errors import BadInputError
from flowstudio.params import DEVICES

MAX_SCORED = 1_000_000
MAX_DIAGNOSED = 1000


def register(actions: argparse._SubParsersAction) -> None:
    """Add ``score`` and ``diagnose`` to the ``mols`` group."""
    from flowstudio.molecules.scores import SCORES

    p = actions.add_parser(
        "score", help="rank molecules by GraphAF likelihood (CSV), or the AUROC of each score (JSON)",
        description="Score every molecule of --data under a trained GraphAF run and write one CSV row "
        "per molecule: "
        + "; ".join(f"{name}: {text}" for name, text in SCORES.items())
        + ". With --in and --out-of instead, print one JSON object with the AUROC of each score "
        f"(auroc_<score>). {SCORE_WARNING}",
    )
    p.add_argument("--run", required=True, help="a run folder written by 'mols train'")
    add_score_arguments(p, "molecules (.smi/.txt, .csv with a SMILES column, .sdf)")
    p.add_argument("--limit", type=int, default=None, help="score at most this many molecules of each file")
    p.add_argument("--checkpoint", choices=("best", "latest"), default="best")
    p.add_argument("--seed", type=int, default=0, help="seeds the node orders and the reference samples")
    p.add_argument("--device", choices=DEVICES, default="cpu")
    p.set_defaults(handler=_score)

    p = actions.add_parser(
        "diagnose", help="invertibility diagnostics of a GraphAF run as JSON",
        description="Check a GraphAF run's step flows in practice and print one JSON object: the round "
        "trip x -> z -> x of every node and edge step of real molecules and of the model's own samples "
        "(max, mean, worst steps), log|det J| against the autograd Jacobian on a few steps, local "
        "Lipschitz estimates of the forward and inverse maps, the graph round trip (each molecule "
        "encoded, its latent decoded through the model, compared with the original), and flags with "
        "their reasons ('healthy' is true when there are none).",
    )
    p.add_argument("--run", required=True, help="a run folder written by 'mols train'")
    p.add_argument("--data", help="molecules to check on (default: the run's training file when it can "
                   "be read, else the model's samples alone)")
    p.add_argument("--molecules", type=int, default=32,
                   help="data molecules (and samples) checked (default 32)")
    p.add_argument("--checkpoint", choices=("best", "latest"), default="best")
    p.add_argument("--seed", type=int, default=0, help="seeds the node orders, dequantization and samples")
    p.add_argument("--device", choices=DEVICES, default="cpu")
    p.set_defaults(handler=_diagnose)


def _read(flag: str, path: str, limit: int | None) -> Any:
    from flowstudio.inputs import require_regular_file
    from flowstudio.molecules.io import read_molecules

    require_regular_file(path, f"{flag} file")
    molecules = read_molecules(path, limit=limit)
    if molecules.skipped:
        sys.stderr.write(f"flowstudio: {flag} {path}: {molecules.report.summary()}\n")
    return molecules


def _score(args: argparse.Namespace) -> int:
    from flowstudio.cli.mols import load_task
    from flowstudio.flows.scoring import auroc_table
    from flowstudio.molecules.scores import reference_scores, score_molecules

    out = score_mode(args)
    if args.limit is not None and not 1 <= args.limit <= MAX_SCORED:
        raise BadInputError(f"--limit must be between 1 and {MAX_SCORED:,}, got {args.limit}")
    sets = [("--data", args.data)] if out is not None else [("--in", args.in_path), ("--out-of", args.out_of)]
    model = load_task(args.run, args.checkpoint, args.device).model
    molecules = [_read(flag, path, args.limit) for flag, path in sets]
    reference = reference_scores(model, seed=args.seed)
    scores = [
        score_molecules(model, m.smiles, m.names, reference=reference, seed=args.seed) for m in molecules
    ]
    if out is not None:
        write_csv(Path(out), scores[0].rows())
        sys.stdout.write(f"{out}\n")
        return 0
    result: dict[str, Any] = auroc_table(scores[0].columns, scores[1].columns)
    result.update(n_in=len(molecules[0].smiles), n_out_of=len(molecules[1].smiles))
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


def _diagnose(args: argparse.Namespace) -> int:
    from flowstudio.cli.mols import load_task
    from flowstudio.molecules.chem import parse_smiles
    from flowstudio.molecules.diagnostics import diagnose

    if not 1 <= args.molecules <= MAX_DIAGNOSED:
        raise BadInputError(f"--molecules must be between 1 and {MAX_DIAGNOSED}, got {args.molecules}")
    task = load_task(args.run, args.checkpoint, args.device)
    path = args.data or task.data_path
    mols, names = [], None
    if args.data or (path and Path(path).is_file()):
        molecules = _read("--data", path, 4 * args.molecules)  # room for the ones it cannot encode
        mols, names = [parse_smiles(s) for s in molecules.smiles], molecules.names
    report = diagnose(task.model, mols, names, n_molecules=args.molecules, seed=args.seed)
    report["data"] = str(path) if mols else None
    sys.stdout.write(json.dumps(report) + "\n")
    return 0
