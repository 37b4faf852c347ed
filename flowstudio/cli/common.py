"""What the engines' command groups share: ``--set`` parsing, resuming, training options."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from flowstudio.errors import BadInputError
from flowstudio.params import DEVICES, Param


def add_run_arguments(
    parser: argparse.ArgumentParser,
    set_example: str,
    params: Mapping[str, Param],
    presets: Mapping[str, Mapping[str, Any]] | None = None,
) -> None:
    """The flags every ``train`` command shares: budgets, device, seed, resume and ``--set``;
    their help is the schema's (see :func:`option_help`)."""
    parser.add_argument("--iters", type=int, help=option_help("iters", params, presets))
    parser.add_argument("--minutes", type=float, help=option_help("minutes", params, presets))
    parser.add_argument("--device", choices=DEVICES, help=option_help("device", params, presets))
    parser.add_argument("--seed", type=int, help=option_help("seed", params, presets))
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --out from its newest checkpoint (latest.pt, else best.pt)")
    parser.add_argument("--strict", action="store_true",
                        help="refuse data with any bad record instead of skipping it (skips are always "
                        "counted in the data line and the run's config.json)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help=f"a hyperparameter (repeatable), e.g. --set {set_example}")


def option_help(
    name: str, params: Mapping[str, Param], presets: Mapping[str, Mapping[str, Any]] | None = None
) -> str:
    """A flag's help: the hyperparameter's own, with its default under each preset
    (``presets``: the resolved values by preset name; None when it depends on more than
    the preset), so that the flag's help cannot drift from what a run uses."""
    if presets is None:
        default = "default: the preset's"
    else:
        by_preset = {preset: values[name] for preset, values in presets.items()}
        if len(set(by_preset.values())) == 1:
            default = f"default {next(iter(by_preset.values()))!r}"
        else:
            default = "default " + ", ".join(f"{value!r} ({preset})" for preset, value in by_preset.items())
    return f"{params[name].help} ({default}; the same as --set {name}=...)".replace("%", "%%")


def check_out_folder(out: str | Path) -> None:
    """Refuse a ``--out`` that exists and is not a folder, before the data is read."""
    if Path(out).exists() and not Path(out).is_dir():
        raise BadInputError(f"run folder {out}: exists and is not a folder")


def parse_sets(pairs: list[str], params: Mapping[str, Param]) -> dict[str, Any]:
    """``--set KEY=VALUE`` pairs as validated hyperparameter values."""
    values: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise BadInputError(f"--set expects KEY=VALUE, got {pair!r}")
        key = key.strip()
        if key not in params:
            raise BadInputError(f"--set: unknown hyperparameter {key!r}; valid names: {', '.join(params)}")
        values[key] = params[key].validate(value.strip())
    return values


def overrides_from_args(
    args: argparse.Namespace, params: Mapping[str, Param], flags: tuple[str, ...]
) -> dict[str, Any]:
    """``--set`` values plus the dedicated flags (``--iters``, ``--seed``, …) that were given."""
    overrides = parse_sets(args.set, params)
    for flag in flags:
        if getattr(args, flag) is not None:
            overrides[flag] = params[flag].validate(getattr(args, flag))
    return overrides


FIXED_ON_RESUME_GROUPS = ("data", "model")
"""Parameter groups a resumed run keeps: its data frame and split, and its network's shape.

Changing them would silently train a different model on different data under the old
weights (or fail to load them); budgets, solver, objective and engine options may change.
"""


def resumed_task_config(
    run_dir: str | Path, kind: str, overrides: dict[str, Any], params: Mapping[str, Param]
) -> dict[str, Any]:
    """The task config recorded in a run folder of ``kind``, with ``overrides`` applied.

    An override of the seed or of a ``data`` or ``model`` parameter that differs from the
    recorded value is refused with a message naming it: resuming continues the same run.
    """
    from flowstudio.training import read_config

    config = read_config(run_dir)
    task_config = config.get("task")
    if config.get("kind") != kind or not isinstance(task_config, dict):
        raise BadInputError(f"{run_dir}: not a {kind} run (kind {config.get('kind')!r})")
    recorded = task_config.get("values", {})
    changed = [
        f"{name} {recorded[name]!r} -> {value!r}"
        for name, value in overrides.items()
        if name in recorded and recorded[name] != value
        and (name == "seed" or (name in params and params[name].group in FIXED_ON_RESUME_GROUPS))
    ]
    if changed:
        raise BadInputError(
            f"{run_dir}: --resume continues the same run, so its data, split, seed and network stay "
            f"as recorded; refused: {'; '.join(changed)}. Train into a new --out folder instead."
        )
    return {**task_config, "values": {**recorded, **overrides}}


def check_csv_out(path: str) -> Path:
    """A ``--out`` CSV path that can be written: refused before any work when it is a
    folder, has another extension or lies in a folder that does not exist."""

    def csv_only(out: Path) -> None:
        if out.suffix.lower() != ".csv":
            raise BadInputError(f"--out {out}: must be a .csv file")

    return check_out_file(path, "scores.csv", csv_only)


def check_out_file(path: str | Path, example: str, check_format: Callable[[Path], object]) -> Path:
    """A ``--out`` file that can be written, refused before any work when it is a folder
    (the message suggests ``example`` inside it), has an extension ``check_format`` refuses
    (it raises :class:`BadInputError`) or lies in a folder that does not exist."""
    out = Path(path)
    if out.is_dir():
        raise BadInputError(f"--out {out}: is a folder; give a file such as {out / example}")
    check_format(out)
    if not out.parent.is_dir():
        raise BadInputError(f"--out {out}: the folder {out.parent} does not exist")
    return out


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    """Rows as CSV with a header (an undefined value is an empty cell), written atomically:
    the file appears whole or not at all."""
    import csv
    import io

    from flowstudio.files import atomic_write_text

    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, text.getvalue())


def add_score_arguments(parser: argparse.ArgumentParser, what: str) -> None:
    """The two modes every ``score`` command offers: ``--data`` scored into ``--out`` (CSV),
    or ``--in`` against ``--out-of`` (the AUROC of each score, as JSON)."""
    parser.add_argument("--data", help=f"the {what} to score")
    parser.add_argument("--out", help="the CSV file to write (with --data)")
    parser.add_argument("--in", dest="in_path", metavar="PATH", help=f"in-distribution {what} (AUROC mode)")
    parser.add_argument("--out-of", dest="out_of", metavar="PATH",
                        help=f"out-of-distribution {what} (AUROC mode)")


def score_mode(args: argparse.Namespace) -> Path | None:
    """Check the flags of :func:`add_score_arguments`: the ``--out`` CSV path in CSV mode,
    ``None`` in AUROC mode; refused before any work when mixed or incomplete."""
    auroc_mode = args.in_path is not None or args.out_of is not None
    if auroc_mode and (args.data or args.out):
        raise BadInputError("give either --data with --out, or --in with --out-of, not both")
    if auroc_mode and not (args.in_path and args.out_of):
        raise BadInputError("AUROC mode needs both --in and --out-of")
    if not auroc_mode and not (args.data and args.out):
        raise BadInputError("give --data and --out (a CSV file), or --in and --out-of")
    return None if auroc_mode else check_csv_out(args.out)


SCORE_WARNING = (
    "Higher is more like the training data for every score. A flow can give higher likelihood to "
    "data it never saw (Nalisnick et al. 2019): compare the scores, not only the likelihood."
)
