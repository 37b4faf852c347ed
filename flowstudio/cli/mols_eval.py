"""``flowstudio mols eval``: metrics of sampled molecules as one JSON object on stdout.

    flowstudio mols eval --samples samples.smi --train train.smi [--test test.smi]

The samples file is read like any molecule file; its invalid entries count against
``valid`` (a file of only invalid entries gives ``valid: 0``). ``valid_without_check``
comes from ``--valid-without-check`` or from a comment line
``# valid_without_check: 0.93`` at the top of a SMILES or CSV file, which
``write_molecules(..., comments=["valid_without_check: 0.93"])`` writes. The shares that
``mols sample`` drew again are passed through under their names (:data:`REDRAWN_SHARES`,
the keys of :data:`flowstudio.molecules.redraws.REDRAW_REASONS`: cut at the size cap,
ended by a bondless atom, ring types that disagreed with the rings); they do not count
against ``valid_without_check``. Metrics that cannot be computed are ``null``.
``--filter-reasons`` adds ``Filters_failures``: for each filter rule, how many valid
samples fail it first (most frequent first). ``--unseen-kinds`` adds
``unseen_ring_system_kinds``: each kind of ring system no training molecule holds, with how
many of the samples' ring systems are of that kind (most frequent first).
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import re
import sys
from pathlib import Path

from flowstudio.molecules.redraws import REDRAW_REASONS

REDRAWN_SHARES = tuple(reason.key for reason in REDRAW_REASONS)
"""The sampler's comment lines passed through: shares of molecules drawn again."""
_SAMPLER_LINE = re.compile(
    r"^#\s*(valid_without_check|" + "|".join(REDRAWN_SHARES) + r")\s*[:=]\s*([0-9.eE+-]+)\s*$"
)
"""A sampler's comment line at the top of a samples file: ``# key: value``."""


def register(actions: argparse._SubParsersAction) -> None:
    """Add ``eval`` to the ``mols`` group."""
    parser = actions.add_parser(
        "eval",
        help="MOSES metrics of sampled molecules (JSON on stdout)",
        description="Validity, uniqueness, novelty, IntDiv, SNN, Frag, Scaf, FCD, Filters and property "
        "distances (MOSES, Polykovskiy et al. 2020) of a file of sampled molecules, with ring-size "
        "statistics and the reference set's own Filters rate; docs/molecule-metrics.md defines each.",
    )
    parser.add_argument("--samples", required=True, type=Path, help="sampled molecules (.smi, .csv, .sdf)")
    parser.add_argument("--train", required=True, type=Path, help="training molecules (for novelty)")
    parser.add_argument(
        "--test",
        type=Path,
        help="held-out molecules: the reference of SNN, Frag, Scaf, FCD, properties, ring sizes "
        "and Filters_ref (default: the training set)",
    )
    parser.add_argument(
        "--device",
        default="auto",
        choices=("auto", "cpu", "cuda"),
        help="where ChemNet (FCD) and the similarity blocks run (default: the GPU when there is one)",
    )
    parser.add_argument(
        "--max-reference",
        type=int,
        default=10_000,
        metavar="N",
        help="compare with a seeded random subset of at most N reference molecules (0: all)",
    )
    parser.add_argument(
        "--valid-without-check",
        type=float,
        metavar="FRACTION",
        help="validity before valency correction, as reported by the sampler (default: read from a "
        "'# valid_without_check: X' comment in the samples file)",
    )
    parser.add_argument("--no-fcd", action="store_true", help="skip FCD (slow on a CPU)")
    parser.add_argument(
        "--filter-reasons",
        action="store_true",
        help="also report Filters_failures: how many valid samples fail each filter rule",
    )
    parser.add_argument(
        "--unseen-kinds",
        action="store_true",
        help="also report unseen_ring_system_kinds: the kinds of ring system no training molecule has, "
        "with their counts among the samples",
    )
    parser.set_defaults(handler=run)


def _sampler_lines(path: Path) -> dict[str, float]:
    """The sampler's ``# key: value`` lines among the first 20 of a SMILES or CSV file."""
    found: dict[str, float] = {}
    if path.suffix.lower() not in (".smi", ".txt", ".smiles", ".csv", ".tsv", ".gz"):
        return found
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
            for _, line in zip(range(20), fh, strict=False):
                match = _SAMPLER_LINE.match(line.strip())
                if match:
                    found.setdefault(match.group(1), float(match.group(2)))
    except (OSError, ValueError):
        return {}
    return found


def _device(name: str) -> str:
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        from flowstudio.errors import BadInputError

        raise BadInputError("--device cuda: no CUDA device is available")
    return name


def run(args: argparse.Namespace) -> int:
    from flowstudio.molecules.io import read_molecules
    from flowstudio.molecules.metrics import evaluate

    device = _device(args.device)
    samples = read_molecules(args.samples, require_valid=False)
    train = read_molecules(args.train)
    test = read_molecules(args.test) if args.test is not None else None
    for flag, reference in (("--train", train), ("--test", test)):  # skipped samples count as invalid
        if reference is not None and reference.skipped_count:
            sys.stderr.write(f"flowstudio: {flag} {reference.source}: {reference.report.summary()}\n")
    generated: list[str | None] = [*samples.smiles, *([None] * samples.skipped_count)]
    from_sampler = _sampler_lines(args.samples)
    vwc = args.valid_without_check
    if vwc is None:
        vwc = from_sampler.get("valid_without_check")
    metrics = evaluate(
        generated,
        train.smiles,
        test.smiles if test is not None else None,
        valid_without_check=vwc,
        device=device,
        max_reference=args.max_reference or None,
        canonicalize_train=False,
        fcd=not args.no_fcd,
        filter_reasons=args.filter_reasons,
        unseen_kinds=args.unseen_kinds,
    )
    metrics.update({key: from_sampler[key] for key in REDRAWN_SHARES if key in from_sampler})
    clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in metrics.items()}
    sys.stdout.write(json.dumps(clean) + "\n")
    return 0
