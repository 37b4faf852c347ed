"""Speed of the MOSES metrics' heavy parts against the usual implementations, same run.

    python benchmarks/molecule_metrics_bench.py                       # 10k x 10k, as MOSES
    python benchmarks/molecule_metrics_bench.py --n 2000 --out benchmarks/results/molecule-metrics.md

What is timed (molecules from ``samples/molecules/moses_20k.smi``, generated = first half,
reference = second half):

* SNN (mean max Tanimoto, Morgan r2 1024 bits) of ``n`` against ``n`` molecules: blockwise
  torch matrix products of bit arrays (:mod:`flowstudio.molecules.similarity`) against
  RDKit's ``BulkTanimotoSimilarity`` one query at a time (timed on ``--baseline-queries``
  queries and extrapolated); the values are checked against each other.
* IntDiv1 of ``n`` molecules: the same two ways (all ordered pairs).
* The Fréchet distance of FCD at 512 dimensions: two symmetric eigendecompositions
  (:func:`flowstudio.molecules.fcd.frechet_distance`) against ``scipy.linalg.sqrtm`` as
  in fcd_torch/MOSES, on ChemNet statistics of ``--fcd-n`` molecules; values compared.
* ``read_molecules`` of ``--read-n`` SMILES in one process and in worker processes (the
  first 32k entries are always parsed in-process, so use ``--read-n`` well above that).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from rdkit import Chem, DataStructs
from rdkit.Chem import rdFingerprintGenerator

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flowstudio.molecules import fcd, similarity  # noqa: E402
from flowstudio.molecules.io import read_molecules  # noqa: E402
from flowstudio.molecules.samples import default_molecule_set  # noqa: E402


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    value = fn(*args, **kwargs)
    return value, time.perf_counter() - start


def rdkit_fps(smiles: list[str]):
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=1024)
    return [gen.GetFingerprint(Chem.MolFromSmiles(s)) for s in smiles]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--baseline-queries", type=int, default=500)
    parser.add_argument("--fcd-n", type=int, default=600)
    parser.add_argument("--read-n", type=int, default=200_000)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--jobs", type=int, default=max(2, min(8, (os.cpu_count() or 2) - 1)))
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    sample = default_molecule_set()
    assert sample is not None, "samples/molecules/moses_20k.smi is missing"
    smiles = sample.path.read_text().split()
    gen, ref = smiles[: args.n], smiles[args.n : 2 * args.n]
    rows: list[tuple[str, str, str, str]] = []

    gen_bits = similarity.morgan_fingerprints([Chem.MolFromSmiles(s) for s in gen])
    ref_bits = similarity.morgan_fingerprints([Chem.MolFromSmiles(s) for s in ref])
    gen_fps, ref_fps = rdkit_fps(gen), rdkit_fps(ref)

    snn, t_fast = timed(lambda: similarity.max_similarity(gen_bits, ref_bits).mean())
    q = min(args.baseline_queries, len(gen))
    base, t_base = timed(lambda: [max(DataStructs.BulkTanimotoSimilarity(fp, ref_fps)) for fp in gen_fps[:q]])
    t_base *= len(gen) / q
    fast_q = similarity.max_similarity(gen_bits[:q], ref_bits)
    assert np.allclose(fast_q, base, atol=1e-6), "SNN values differ from RDKit's"
    rows.append(
        (
            f"SNN {len(gen)} x {len(ref)}",
            f"{t_fast:.2f} s",
            f"{t_base:.1f} s (extrap.)",
            f"{t_base / t_fast:.0f}x",
        )
    )

    intdiv, t_fast = timed(lambda: 1 - similarity.mean_power_similarity(gen_bits))
    _, t_base = timed(lambda: [sum(DataStructs.BulkTanimotoSimilarity(fp, gen_fps)) for fp in gen_fps[:q]])
    t_base *= len(gen) / q
    rows.append(
        (f"IntDiv1 {len(gen)}", f"{t_fast:.2f} s", f"{t_base:.1f} s (extrap.)", f"{t_base / t_fast:.0f}x")
    )

    half = args.fcd_n // 2
    a = fcd.chemnet_statistics(smiles[:half])
    b = fcd.chemnet_statistics(smiles[half : 2 * half])
    mine, t_fast = timed(fcd.frechet_distance, a["mu"], a["sigma"], b["mu"], b["sigma"])
    from fcd_torch.utils import calculate_frechet_distance

    theirs, t_base = timed(calculate_frechet_distance, a["mu"], a["sigma"], b["mu"], b["sigma"])
    assert abs(mine - theirs) < 1e-4 * max(1.0, abs(theirs)), (mine, theirs)
    rows.append(
        (
            f"Fréchet distance, 512-d ({half} vs {half})",
            f"{t_fast:.3f} s",
            f"{t_base:.3f} s (sqrtm)",
            f"{t_base / t_fast:.0f}x",
        )
    )

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "read.smi"
        many = (smiles * (args.read_n // len(smiles) + 1))[: args.read_n]
        path.write_text("\n".join(many) + "\n")
        one, t_base = timed(read_molecules, path, n_jobs=1)
        par, t_fast = timed(read_molecules, path, n_jobs=args.jobs)
        assert one.smiles == par.smiles
    rows.append(
        (
            f"read_molecules {args.read_n} SMILES",
            f"{t_fast:.1f} s ({args.jobs} workers)",
            f"{t_base:.1f} s (1 process)",
            f"{t_base / t_fast:.1f}x",
        )
    )

    machine = (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch threads {args.threads}"
    )
    blas = (
        f"OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']} "
        if "OPENBLAS_NUM_THREADS" in os.environ
        else ""
    )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [
        "# Molecule metrics: speed against the usual implementations",
        "",
        f"Command: `{blas}python benchmarks/molecule_metrics_bench.py --n {args.n} --fcd-n {args.fcd_n} "
        f"--read-n {args.read_n} --jobs {args.jobs} --threads {args.threads}`  ",
        f"Machine: {machine}; load average at the end {load:.1f}.  ",
        f"Values: SNN {snn:.4f}, IntDiv1 {intdiv:.4f}, "
        f"Fréchet distance {mine:.4f} (fcd_torch's sqrtm: {theirs:.4f}).",
        "",
        "| what | FlowStudio | baseline | ratio |",
        "|---|---|---|---|",
        *[f"| {a_} | {b_} | {c_} | {d_} |" for a_, b_, c_, d_ in rows],
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
