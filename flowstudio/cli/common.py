"""What the engines' command groups share: ``--set`` parsing, resuming, training options."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flowstudio.errors import BadInputError
from flowstudio.params import Param

DEVICES = ("auto", "cpu", "cuda", "mps")


def add_run_arguments(parser: argparse.ArgumentParser, set_example: str) -> None:
    """The flags every ``train`` command shares: budgets, device, seed, resume and ``--set``."""
    parser.add_argument("--iters", type=int, help="total optimization steps of the run (0: no limit)")
    parser.add_argument("--minutes", type=float, help="wall-clock budget of this session (0: no limit)")
    parser.add_argument("--device", choices=DEVICES, help="default auto (CUDA, then MPS, then the CPU)")
    parser.add_argument("--seed", type=int, help="seed of every random generator (default 0)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --out from its latest checkpoint")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help=f"a hyperparameter (repeatable), e.g. --set {set_example}")


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


def resumed_task_config(run_dir: str | Path, kind: str, overrides: dict[str, Any]) -> dict[str, Any]:
    """The task config recorded in a run folder of ``kind``, with ``overrides`` applied."""
    from flowstudio.training import read_config

    config = read_config(run_dir)
    task_config = config.get("task")
    if config.get("kind") != kind or not isinstance(task_config, dict):
        raise BadInputError(f"{run_dir}: not a {kind} run (kind {config.get('kind')!r})")
    return {**task_config, "values": {**task_config.get("values", {}), **overrides}}
