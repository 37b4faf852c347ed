"""Which GraphAF recipe gives molecules a chemist would accept? Issue 13's ablation scorer.

For each run (``LABEL=RUN_FOLDER``, trained by ``flowstudio mols train``), each sampling
temperature and each seed, draws N molecules from the best checkpoint with the checks on
and scores them with ``mols eval``'s metrics (through ``graphaf_rings.score``) against
held-out molecules no run trained on. A temperature is ``T`` (every step) or ``TN/TE``:
``TN`` for the atom steps, ``TE`` for the bond steps (the END decision stays at 1, as in
``mols sample``). Prints one Markdown row per run and temperature, the mean over seeds with
the spread (max - min) of FCD, Filters and QED, and the run's steps and best held-out NLL
from its ``metrics.jsonl``; the floor row is N real held-out molecules scored the same way.

FCD, Filters and QED move by less from seed to seed of *sampling* than from run to run of
*training*: compare recipes over several training seeds (``--runs A0=... A1=... B0=...``
with ``--group`` merging labels that share the text before the last digit).

    python benchmarks/graphaf_recipe.py --runs A=RUN_A B=RUN_B --train moses_20k.smi \\
        --heldout heldout.smi [--temperatures 0.75 0.6 0.75/0.5] [--seeds 0 1] [--n 1000] \\
        [--group] [--grid grid.png] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from graphaf_rings import add_run_arguments, draw_grid, score  # noqa: E402

from flowstudio.cli.mols import load_task  # noqa: E402
from flowstudio.molecules.generate import generate  # noqa: E402
from flowstudio.molecules.io import read_molecules  # noqa: E402

KEYS = (
    ("valid_without_check", "valid w/o check"),
    ("unique", "unique"),
    ("novel", "novel"),
    ("ring_unusual_share", "unusual rings"),
    ("rings_mean", "rings a molecule"),
    ("fused_systems_mean", "fused ring systems"),
    ("ring_size_tv", "ring-size TV"),
    ("acyclic_double_share", "open C=C/C=N/N=N"),
    ("FCD/Test", "FCD"),
    ("Filters", "Filters"),
    ("qed_mean", "QED"),
    ("heavy_atoms", "size W1"),
    ("aromatic_ring_share", "aromatic rings"),
    ("partly_saturated_share", "partly sat. rings"),
)
SPREAD = ("FCD/Test", "Filters", "qed_mean")


def parse_temperature(text: str) -> tuple[float, float | None]:
    """``"0.75"`` -> (0.75, None); ``"0.75/0.5"`` -> (0.75, 0.5): atom steps / bond steps."""
    node, _, edge = text.partition("/")
    return float(node), float(edge) if edge else None


def run_summary(run: str) -> tuple[int, float]:
    """The run's last step and its best held-out NLL, from ``metrics.jsonl``."""
    step, best = 0, float("inf")
    for line in (Path(run) / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        step = max(step, int(record.get("step", 0)))
        if "validation" in record:
            best = min(best, float(record["validation"]))
    return step, best


def group_of(label: str, merge: bool) -> str:
    return re.sub(r"\d+$", "", label) if merge else label


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_run_arguments(parser)
    parser.add_argument("--temperatures", nargs="+", default=["0.75"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--group", action="store_true", help="average labels differing in a last digit")
    parser.add_argument("--grid", help="PNG: 24 samples (first run and T), 24 training")
    parser.add_argument("--json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    train = read_molecules(args.train).smiles
    heldout = read_molecules(args.heldout).smiles
    floor_set, reference = heldout[: args.n], heldout[args.n : args.n + args.reference_size]
    rows: dict[tuple[str, str], list[dict]] = defaultdict(list)
    runs: dict[str, list[tuple[int, float]]] = defaultdict(list)
    grid: list[str] = []
    for spec in args.runs:
        label, _, run = spec.partition("=")
        group = group_of(label, args.group)
        runs[group].append(run_summary(run))
        task = load_task(run, "best")
        cap = task.vocab.max_atoms
        for text in args.temperatures:
            node_t, edge_t = parse_temperature(text)
            for seed in args.seeds:
                out = generate(task.model, args.n, temperature=node_t, edge_temperature=edge_t, seed=seed)
                m = score(out.smiles, train, reference, out.validity_without_check, cap)
                m.pop("ring_counts")
                rows[(group, text)].append(m)
                print(
                    f"{label} T={text} seed={seed}: "
                    + ", ".join(f"{title} {m[key]:.3f}" for key, title in KEYS),
                    flush=True,
                )
                if args.grid and not grid:
                    grid = [s for s in out.smiles if s is not None][:24]
    floor = score(list(floor_set), train, reference, None, cap)
    floor.pop("ring_counts")
    print(
        "\n| recipe | T (atoms/bonds) | runs x seeds | steps | best NLL | "
        + " | ".join(title for _, title in KEYS)
        + " | spread FCD / Filters / QED |"
    )
    print("| --- | --- | ---: | ---: | ---: |" + " ---: |" * len(KEYS) + " --- |")
    for (group, text), ms in rows.items():
        steps = np.mean([s for s, _ in runs[group]])
        nll = np.mean([v for _, v in runs[group]])
        cells = [f"{np.mean([m[key] for m in ms]):.3f}" for key, _ in KEYS]
        spread = " / ".join(f"{np.ptp([m[key] for m in ms]):.3f}" for key in SPREAD)
        print(
            f"| {group} | {text} | {len(runs[group])} x {len(args.seeds)} | {steps:.0f} | {nll:.1f} | "
            + " | ".join(cells)
            + f" | {spread} |"
        )
    cells = [f"{floor[key]:.3f}" if key in floor else "-" for key, _ in KEYS]
    print("| real held-out molecules (floor) | - | - | - | - | " + " | ".join(cells) + " | - |")
    if args.json:
        out = {f"{g} T={t}": ms for (g, t), ms in rows.items()} | {"floor": floor}
        Path(args.json).write_text(json.dumps(out, indent=1, default=str))
    if args.grid:
        draw_grid(grid, train, 0, args.grid)


if __name__ == "__main__":
    main()
