"""``flowstudio mols …``: train, sample and evaluate molecules headless.

::

    flowstudio mols train  --data PATH --out RUN [--preset quick|full] [--iters N] [--minutes M]
                           [--device auto|cpu|cuda] [--seed S] [--resume] [--lr LR] [--set key=value ...]
    flowstudio mols sample --run RUN --n N [--temperature T] [--end-temperature T] [--no-check]
                           [--ring-sizes 3,5-7|any] [--[no-]known-ring-systems] --out FILE
    flowstudio mols eval   --samples FILE --train PATH [--test PATH]
    flowstudio mols optimize --run RUN --data PATH --property qed|plogp|logp|sa|mw [--sim 0.4] --out FILE.csv
    flowstudio mols score  --run RUN --data PATH --out FILE.csv | --in PATH --out-of PATH
    flowstudio mols diagnose --run RUN [--data PATH] [--molecules N]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from flowstudio.cli import mols_eval, mols_optimize, mols_score
from flowstudio.cli.common import (
    add_run_arguments,
    check_out_file,
    check_out_folder,
    option_help,
    overrides_from_args,
    resumed_task_config,
)
from flowstudio.errors import BadInputError
from flowstudio.inputs import require_regular_file
from flowstudio.params import DEVICES


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``mols`` command group to the top-level parser."""
    group = sub.add_parser("mols", help="train, sample and evaluate molecules")
    actions = group.add_subparsers(dest="command", metavar="ACTION")
    _register_train(actions)
    _register_sample(actions)
    mols_eval.register(actions)
    mols_optimize.register(actions)
    mols_score.register(actions)


def _register_train(actions: argparse._SubParsersAction) -> None:
    from flowstudio.molecules.settings import BY_NAME, PRESETS, resolve

    p = actions.add_parser(
        "train", help="train GraphAF on molecules into a run folder",
        description="Train GraphAF (Shi et al. 2020) on a molecule file (.smi/.txt, .csv with a SMILES "
        "column, .sdf; gzipped too). The run folder receives config.json, checkpoints/latest.pt and "
        "best.pt, and metrics.jsonl. Every hyperparameter can be set with --set key=value; the keys "
        f"are: {', '.join(BY_NAME)}.",
    )
    p.add_argument("--data", help="the training molecules; with --resume, defaults to the run's data")
    p.add_argument("--out", required=True, help="the run folder")
    p.add_argument("--preset", choices=PRESETS, help="quick (2 CPU cores, minutes) or full (the paper's "
                   "sizes, GPU); default quick")
    presets = {preset: resolve(preset) for preset in PRESETS}
    p.add_argument("--lr", type=float, help=option_help("lr", BY_NAME, presets))
    add_run_arguments(p, "hidden=128", BY_NAME, presets)
    p.set_defaults(handler=_train)


def _register_sample(actions: argparse._SubParsersAction) -> None:
    from flowstudio.molecules.settings import DEFAULT_TEMPERATURE

    p = actions.add_parser(
        "sample", help="sample molecules from a trained GraphAF run",
        description="Draw N molecules from a run's best checkpoint (else latest) with the valency "
        "check (or --no-check) and write them by extension: .smi (SMILES; a comment line holds the "
        "validity without check), .csv (SMILES, QED, logP, SA, MW, heavy atoms, resampled), .sdf "
        "(valid molecules only). A one-line summary goes to stderr.",
    )
    p.add_argument("--run", required=True, help="a run folder written by 'mols train'")
    p.add_argument("--n", type=int, required=True, help="number of molecules")
    p.add_argument("--temperature", type=float,
                   help=f"prior temperature (default: the run's temperature setting, {DEFAULT_TEMPERATURE:g} "
                   "unless it was trained with another); bond steps are drawn at it times the run's "
                   "bond_temperature")
    p.add_argument("--bond-temperature", type=float,
                   help="temperature of the bond steps alone (default: --temperature times the run's "
                   "bond_temperature). Cooler bond steps keep open C=C/C=N/N=N bonds and filter failures "
                   "out and also take fused ring systems away: on five quick models at atoms 0.9, bonds "
                   "at 0.6 drew 0.16 fused systems a molecule and bonds at 0.9 drew 0.22 (MOSES 0.37), "
                   "with 2.5%% open double bonds against 0.7%%")
    p.add_argument("--end-temperature", type=float, default=1.0,
                   help="temperature of the END decision (default 1: the sizes the model learned; "
                   "lower values make molecules longer)")
    p.add_argument("--no-check", action="store_true",
                   help="no check at all: never redraw a bond that breaks a valence or closes a ring")
    p.add_argument("--ring-sizes",
                   help="the ring check's allowed ring sizes, such as '3,5-7', or 'any' for none "
                   "(default: the run's, from its training data)")
    p.add_argument("--known-ring-systems", action=argparse.BooleanOptionalAction, default=None,
                   help="draw again every molecule with a kind of ring system (fused rings as one, "
                   "substituents left out) that no training molecule has, or not (default: the run's "
                   "redraw_unseen_rings setting, off in the presets); needs the check")
    p.add_argument("--out", required=True, help="the file to write: .smi, .csv or .sdf (.gz allowed)")
    p.add_argument("--checkpoint", choices=("best", "latest"), default="best",
                   help="which checkpoint to sample from (default best, else latest)")
    p.add_argument("--seed", type=int, default=None, help="make the samples repeatable")
    p.add_argument("--device", choices=DEVICES, default="auto")
    p.add_argument("--batch-size", type=int, default=1000, help="molecules generated together")
    p.set_defaults(handler=_sample)


def _train(args: argparse.Namespace) -> int:
    from flowstudio.cli.progress import run_training
    from flowstudio.molecules.settings import BY_NAME
    from flowstudio.molecules.task import MoleculeTask
    from flowstudio.training import TrainOptions

    overrides = overrides_from_args(args, BY_NAME, ("iters", "minutes", "device", "seed", "lr"))
    check_out_folder(args.out)
    if args.resume:
        task_config = resumed_task_config(args.out, "molecules", overrides, BY_NAME)
        data = args.data or task_config.get("data_path")
        if not data:
            raise BadInputError("--data is required: the run does not record its data file")
        require_regular_file(data)
        task = MoleculeTask.from_config(task_config, data=str(data))
    else:
        if not args.data:
            raise BadInputError("--data is required (the molecules to train on)")
        require_regular_file(args.data)
        task = MoleculeTask(args.data, args.preset or "quick", overrides)
    task.data_report.refuse_if_strict(task.data_path or args.data, args.strict)
    sys.stderr.write(
        f"data: {len(task.train_graphs)} training and {len(task.valid_graphs)} held-out molecules"
        f" ({task.data_report.summary()}); atoms {', '.join(task.vocab.labels())}, "
        f"at most {task.vocab.max_atoms} atoms, edge window {task.vocab.edge_window}\n"
    )
    return run_training(task, args.out, TrainOptions.from_values(task.values, resume=args.resume))


def load_task(run: str | Path, which: str = "best", device: str = "cpu"):
    """The :class:`MoleculeTask` of a run folder with its trained weights, on ``device``."""
    from flowstudio.training import Run, restore_task

    if not Path(run).is_dir():
        raise BadInputError(f"--run {run}: no such run folder")
    path = Run(run).checkpoint(which)
    return restore_task(path, kind="molecules", model_name="graphaf", device=device).task


MAX_SAMPLES = 1_000_000
"""Molecules one ``mols sample`` may draw (hours of generation on a CPU; larger is a typo)."""


def _sample(args: argparse.Namespace) -> int:
    import math

    import numpy as np

    from flowstudio.molecules.generate import generate
    from flowstudio.molecules.io import format_for_writing, write_molecules
    from flowstudio.molecules.redraws import REDRAW_REASONS
    from flowstudio.molecules.settings import BY_NAME

    if not 1 <= args.n <= MAX_SAMPLES:
        raise BadInputError(f"--n must be between 1 and {MAX_SAMPLES:,}, got {args.n}")
    if args.temperature is not None and not 0 <= args.temperature < math.inf:
        raise BadInputError(f"--temperature must be a finite number >= 0, got {args.temperature}")
    for name in ("bond_temperature", "end_temperature"):
        value = getattr(args, name)
        if value is not None and not 0 <= value < math.inf:
            raise BadInputError(f"--{name.replace('_', '-')} must be a finite number >= 0, got {value}")
    if not 1 <= args.batch_size <= 100_000:
        raise BadInputError(f"--batch-size must be between 1 and 100,000, got {args.batch_size}")
    if args.seed is not None:
        BY_NAME["seed"].validate(args.seed)
    out = check_out_file(args.out, "molecules.csv", format_for_writing)
    fmt = format_for_writing(out)
    from flowstudio.molecules.chemistry_check import format_ring_sizes, parse_ring_sizes

    ring_sizes = parse_ring_sizes(args.ring_sizes) if args.ring_sizes is not None else None
    task = load_task(args.run, args.checkpoint, args.device)
    if args.ring_sizes is not None:
        task.model.ring_sizes = ring_sizes
    if args.known_ring_systems is not None:
        if args.known_ring_systems and task.model.ring_systems is None:
            raise BadInputError(
                "--known-ring-systems: this run does not record its training molecules' ring systems "
                "(it was trained before FlowStudio kept them); train it again to use it"
            )
        task.model.redraw_unseen_rings = args.known_ring_systems
    temperature = task.values["temperature"] if args.temperature is None else args.temperature
    result = generate(
        task.model, args.n, temperature=temperature, check=not args.no_check,
        max_retries=task.values["max_retries"], batch_size=args.batch_size, seed=args.seed,
        end_temperature=args.end_temperature, edge_temperature=args.bond_temperature,
    )
    bond_t = result.edge_temperature
    smiles = result.smiles
    valid = result.validity
    without = valid if args.no_check else result.validity_without_check
    sizes = [m.GetNumAtoms() for m in result.mols if m is not None]
    if fmt.name == "sdf":
        smiles = [s for s in smiles if s is not None]
        if not smiles:
            raise BadInputError("no valid molecule to write to SDF; write .smi or .csv instead")
    extra = None
    if fmt.name == "csv":
        extra = {"resampled": [bool(r) for r in result.resampled]}
    shares = {reason: result.redrawn_share(reason) for reason in REDRAW_REASONS}
    comments = [f"valid_without_check: {without:.4f}"]
    # Every redraw the run asks for has its line, also under --no-check (0 there), and no other
    asked = [reason for reason in REDRAW_REASONS if reason.wanted(task.model)]
    comments += [f"{reason.key}: {shares[reason]:.4f}" for reason in asked]
    comments = comments if fmt.name in ("smiles", "csv") else []
    write_molecules(out, smiles, properties=True, extra_columns=extra, comments=comments)
    unique = len({s for s in result.smiles if s is not None})
    ended = np.bincount(result.ended, minlength=3) / max(1, len(result.ended))
    checks = "no check" if args.no_check else f"with check, rings {format_ring_sizes(task.model.ring_sizes)}"
    bonds = f" (bonds {bond_t:g})" if bond_t != temperature else ""
    redrawn = "".join(f"; {share:.1%} {reason.phrase}" for reason, share in shares.items() if share)
    sys.stderr.write(
        f"sampled {args.n} molecules at temperature {temperature:g}{bonds}"
        f": valid {valid:.1%} ({checks}), "
        f"valid without check {without:.1%}, "
        f"unique {unique / max(1, sum(s is not None for s in result.smiles)):.1%}, "
        f"mean heavy atoms {np.mean(sizes) if sizes else float('nan'):.1f} (ended by END {ended[0]:.0%}, "
        f"by a bondless atom {ended[1]:.0%}, cut at max size {ended[2]:.0%}"
        f"{redrawn}) -> {out}\n"
    )
    return 0

