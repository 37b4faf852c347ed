"""Molecule property optimization in GraphAF's latent space (issue 16), reported as the
literature does (JT-VAE, Jin et al. 2018; GraphAF, Shi et al. 2020 §4.4): over a set of
start molecules, the success rate (a valid molecule that improves the property and keeps
Tanimoto similarity >= delta to its start) and the mean improvement of the successes, at
delta = 0.4 and 0.6, beside the unconstrained latent walk (the best decoded molecule along
the property direction, whatever its similarity).

    python benchmarks/mol_property_optimization.py prepare --out DIR [--starts 200] [--train 20000]
    flock /tmp/flowstudio-bench.lock flowstudio mols train --data DIR/train.smi --out DIR/run \
        --preset quick --minutes 8
    python benchmarks/mol_property_optimization.py evaluate --run DIR/run --dir DIR [--md OUT.md]
        [--grid OUT.png]

``prepare`` draws the start molecules and the training molecules from MOSES's training file
(disjoint by construction: one seeded permutation, starts first). The directions are
fitted on encoded training molecules; the starts are never seen in training or fitting.
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
from rdkit import Chem

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flowstudio.cli.mols import load_task  # noqa: E402
from flowstudio.molecules.optimize import (  # noqa: E402
    Direction,
    Search,
    best_candidate,
    candidates,
    encodable,
    fit_direction,
    get_property,
    summarize,
)

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "moses_train.csv.gz"
PROPERTIES = ("qed", "plogp")
THRESHOLDS = (0.0, 0.4, 0.6)


def read_all_smiles(path: Path) -> list[str]:
    """Every SMILES of a MOSES csv (first column, header skipped)."""
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt") as fh:
        rows = [line.split(",")[0].strip() for line in fh]
    return [s for s in rows[1:] if s]


def prepare(args: argparse.Namespace) -> None:
    smiles = read_all_smiles(Path(args.data))
    order = np.random.default_rng(args.seed).permutation(len(smiles))
    starts = [smiles[i] for i in order[: args.starts]]
    train = [smiles[i] for i in order[args.starts : args.starts + args.train]]
    assert not set(starts) & set(train)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "starts.smi").write_text("\n".join(starts) + "\n")
    (out / "train.smi").write_text("\n".join(train) + "\n")
    print(f"{out}: {len(starts)} starts, {len(train)} training molecules (disjoint)")


def _mols(path: Path, limit: int | None = None) -> list[Chem.Mol]:
    lines = [line.split()[0] for line in path.read_text().splitlines() if line.strip()]
    return [Chem.MolFromSmiles(s) for s in lines[:limit]]


def random_direction(like: Direction, seed: int) -> Direction:
    """A unit direction drawn uniformly: the control that says what the fitted one adds."""
    generator = torch.Generator().manual_seed(seed)
    unit = torch.randn(like.unit.shape, generator=generator)
    unit = unit / unit.norm()
    return Direction(like.prop, unit, unit, 0.0, float("nan"), None, 0)


def evaluate(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    work = Path(args.dir)
    model = load_task(args.run, "best", "cpu").model
    starts, dropped = encodable(model, _mols(work / "starts.smi", args.starts))
    fit, _ = encodable(model, _mols(work / "train.smi", args.fit_molecules))
    search = Search(steps=args.steps, max_distance=args.max_distance, scatter=args.scatter, sigma=args.sigma)
    print(f"{len(starts)} starts ({len(dropped)} the model cannot encode), {len(fit)} molecules to fit on; "
          f"{search}", flush=True)
    rows: list[dict] = []
    pairs: dict = {}
    report: dict = {"search": dataclasses.asdict(search), "starts": len(starts)}
    for prop in args.properties:
        spec = get_property(prop)
        t0 = time.perf_counter()
        fitted = fit_direction(model, fit, prop, seed=0)
        fit_s = time.perf_counter() - t0
        print(f"{prop}: R² {fitted.r2_fit:.3f} (fit), {fitted.r2_held_out:.3f} (held out), {fit_s:.0f} s",
              flush=True)
        report[prop] = {"r2_fit": fitted.r2_fit, "r2_held_out": fitted.r2_held_out, "fit_s": fit_s}
        for name, direction in (("fitted", fitted), ("random", random_direction(fitted, 1))):
            t0 = time.perf_counter()
            outcomes: dict[tuple[str, float], list] = {}
            valid = total = 0
            for k, start in enumerate(starts):
                decoded = candidates(model, start, direction, search, seed=k)
                valid += sum(m is not None for m in decoded.mols)
                total += len(decoded.mols)
                for delta in THRESHOLDS:
                    outcomes.setdefault(("walk", delta), []).append(
                        best_candidate(spec, start, decoded.mols[: search.steps], delta))
                    outcomes.setdefault(("search", delta), []).append(
                        best_candidate(spec, start, decoded.mols, delta))
            seconds = time.perf_counter() - t0
            print(f"  {name} direction: {total} candidates decoded in {seconds:.0f} s, "
                  f"{valid / max(1, total):.1%} valid", flush=True)
            for (method, delta), results in outcomes.items():
                summary = summarize(results)
                rows.append({"property": prop, "direction": name, "method": method, "delta": delta,
                             **summary, "valid": valid / max(1, total), "seconds": seconds})
                if name == "fitted" and method == "search":
                    pairs[(prop, delta)] = results
    report["rows"] = rows
    table = format_table(rows)
    print(table)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1, default=str))
    if args.grid:
        draw_pairs([p for prop in args.properties for p in [(prop, pairs[(prop, 0.4)])]], Path(args.grid))


def _num(x: float, fmt: str) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, fmt)


def format_table(rows: list[dict]) -> str:
    lines = ["| property | direction | candidates | δ | success | mean improvement (successes) | "
             "mean improvement (all starts) | mean similarity |", "|" + "---|" * 8]
    for r in sorted(rows, key=lambda r: (r["property"], r["direction"], r["method"], r["delta"])):
        method = "walk only" if r["method"] == "walk" else "walk + scatter"
        lines.append(
            f"| {r['property']} | {r['direction']} | {method} | {r['delta']:.1f} | {r['success']:.1%} | "
            f"{_num(r['improvement'], '.3f')} | {_num(r['improvement_all'], '.3f')} | "
            f"{_num(r['similarity'], '.2f')} |"
        )
    return "\n".join(lines)


def draw_pairs(outcomes: list[tuple[str, list]], out: Path, per_property: int = 6) -> None:
    """Start / optimized pairs at δ = 0.4 with the largest improvements, as a chemist reads them."""
    from rdkit.Chem import Draw

    mols, legends = [], []
    for prop, results in outcomes:
        label = {"qed": "QED", "plogp": "pLogP"}[prop]
        wins = sorted((r for r in results if r.success), key=lambda r: -r.improvement)[:per_property]
        for r in wins:
            mols += [Chem.MolFromSmiles(r.start), Chem.MolFromSmiles(r.smiles)]
            legends += [f"start {label} {r.start_value:.2f}",
                        f"{label} {r.value:.2f} (+{r.improvement:.2f}), sim {r.similarity:.2f}"]
    image = Draw.MolsToGridImage(mols, molsPerRow=4, subImgSize=(300, 240), legends=legends)
    image.save(str(out))
    print(f"grid: {out}")


def main(argv: list[str] | None = None) -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("--data", default=str(DEFAULT_DATA))
    p.add_argument("--out", required=True)
    p.add_argument("--starts", type=int, default=200)
    p.add_argument("--train", type=int, default=20000)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(action=prepare)
    defaults = Search()
    e = sub.add_parser("evaluate")
    e.add_argument("--run", required=True)
    e.add_argument("--dir", required=True, help="the folder 'prepare' wrote")
    e.add_argument("--fit-molecules", type=int, default=2000)
    e.add_argument("--starts", type=int, default=None, help="only the first N starts (for a quick look)")
    e.add_argument("--steps", type=int, default=defaults.steps)
    e.add_argument("--max-distance", type=float, default=defaults.max_distance)
    e.add_argument("--scatter", type=int, default=defaults.scatter)
    e.add_argument("--sigma", type=float, default=defaults.sigma)
    e.add_argument("--properties", nargs="+", choices=PROPERTIES, default=list(PROPERTIES),
                   help="the properties to optimize (one at a time keeps each bench-lock hold short)")
    e.add_argument("--threads", type=int, default=1)
    e.add_argument("--json")
    e.add_argument("--grid")
    e.set_defaults(action=evaluate)
    args = parser.parse_args(argv)
    args.action(args)


if __name__ == "__main__":
    sys.exit(main())
