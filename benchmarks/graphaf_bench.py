"""GraphAF benchmark: FlowStudio's implementation vs a paper-style baseline, in one run.

    python benchmarks/graphaf_bench.py [--data moses_train.csv.gz] [--molecules 20000]
        [--preset quick|full] [--device cpu|cuda|auto] [--minutes 3] [--threads 2] [--json OUT]

Both models have the same architecture and parameter layout (the baseline in
``graphaf_baseline.py`` wraps a FlowStudio ``GraphAF`` and computes with dense per-step
adjacencies, as the reference code does); the run first checks that they compute the same
log-likelihood. Then, from the same initial weights and data:

1. *Quality after a fixed budget*: each trains for ``--minutes`` of wall-clock time
   (AdamW, the preset's learning rate and batch size); training throughput (molecules/s)
   is measured over these runs. Each trained model is scored by its held-out NLL and by
   MOSES metrics of samples (drawn with FlowStudio's batched generator, so that the
   comparison is about the training, not the sampler).
2. *Generation throughput*: FlowStudio's batched generator vs the baseline's one-molecule-
   at-a-time generator, both with the valency check, on the same trained weights.

Everything is reported as FlowStudio / baseline ratios. Pin the threads (``--threads``,
default 2) for the "2 CPU cores" numbers.
"""

from __future__ import annotations

import argparse
import copy
import gzip
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from graphaf_baseline import DenseGraphAFBaseline  # noqa: E402

from flowstudio.molecules.generate import generate  # noqa: E402
from flowstudio.molecules.graph import apply_order, fitting_order  # noqa: E402
from flowstudio.molecules.graphaf import GraphAF  # noqa: E402
from flowstudio.molecules.packing import pack_steps  # noqa: E402
from flowstudio.molecules.task import MoleculeTask  # noqa: E402

PAPER_MODEL = {
    "valence_features": False, "full_covariance": False, "order_features": False, "end_step": False,
    "dequantization": 0.9,
}
"""The paper's model (both sides of the throughput comparison compute it)."""
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "moses_train.csv.gz"


def read_smiles(path: Path, count: int, skip: int = 0) -> list[str]:
    opener = gzip.open if path.name.endswith(".gz") else open
    out: list[str] = []
    with opener(path, "rt") as fh:
        for number, line in enumerate(fh):
            text = line.strip().split(",")[0]
            if (number == 0 and text.lower() == "smiles") or not text:
                continue
            if number <= skip:
                continue
            out.append(text)
            if len(out) >= count:
                break
    return out


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def baseline_batch(task: MoleculeTask, baseline: DenseGraphAFBaseline, size: int, device: torch.device):
    index = np.random.randint(len(task.train_graphs), size=size)
    ordered = []
    for i in index:
        graph = task.train_graphs[i]
        ordered.append(apply_order(graph, fitting_order(graph, task.vocab.edge_window, np.random)))
    return baseline.dense_batch(ordered, device)


def train_for(
    task: MoleculeTask, model: GraphAF, seconds: float, baseline: bool, device: torch.device
) -> dict:
    """Train ``model`` (in place) for ``seconds``; return steps, molecules/s, final loss."""
    values = task.values
    task.model = model
    dense = DenseGraphAFBaseline(model).to(device) if baseline else None
    optimizer = torch.optim.AdamW(model.parameters(), lr=values["lr"], weight_decay=values["weight_decay"])
    np.random.seed(1)
    torch.manual_seed(1)
    model.train()
    steps, losses = 0, []
    sync(device)
    start = time.perf_counter()
    while True:
        if dense is not None:
            loss = dense.loss(baseline_batch(task, dense, values["batch_size"], device))
        else:
            loss = task.training_step(steps)["loss"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), values["grad_clip"] or 1e9)
        optimizer.step()
        steps += 1
        if steps % 10 == 0:
            losses.append(float(loss.detach()))
        sync(device)
        if time.perf_counter() - start >= seconds:
            break
    sync(device)
    elapsed = time.perf_counter() - start
    return {
        "steps": steps, "seconds": elapsed, "molecules_per_s": steps * values["batch_size"] / elapsed,
        "final_loss": float(np.mean(losses[-5:])) if losses else math.nan,
    }


def interleaved_throughput(task: MoleculeTask, initial: dict, rounds: int, device: torch.device) -> dict:
    """Training molecules/s of both, measured in alternating rounds so that a change of
    load on a shared machine hits both alike (each round: 4 FlowStudio steps, 1 baseline)."""
    values, size = task.values, task.values["batch_size"]
    timings = {"flowstudio": [0.0, 0], "baseline": [0.0, 0]}
    models = {}
    for name in timings:
        model = GraphAF(task.vocab, task.model.config).to(device)
        model.load_state_dict(initial)
        models[name] = (model, torch.optim.AdamW(model.parameters(), lr=values["lr"]))
    dense = DenseGraphAFBaseline(models["baseline"][0]).to(device)

    def step(name: str) -> None:
        model, optimizer = models[name]
        task.model = model
        if name == "baseline":
            loss = dense.loss(baseline_batch(task, dense, size, device))
        else:
            loss = task.training_step(0)["loss"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    step("flowstudio")  # warm-up
    step("baseline")
    for _ in range(rounds):
        for name, count in (("flowstudio", 4), ("baseline", 1)):
            sync(device)
            start = time.perf_counter()
            for _ in range(count):
                step(name)
            sync(device)
            timings[name][0] += time.perf_counter() - start
            timings[name][1] += count
    return {
        name: {"steps": n, "seconds": s, "molecules_per_s": n * size / s} for name, (s, n) in timings.items()
    }


def check_same_likelihood(task: MoleculeTask, device: torch.device) -> float:
    """Max |difference| of per-molecule log-likelihoods (midpoint dequantization)."""
    model = task.model
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    rng = np.random.default_rng(0)
    graphs = [apply_order(g, fitting_order(g, task.vocab.edge_window, rng)) for g in task.train_graphs[:8]]
    packed = pack_steps(graphs, task.vocab).to(device)
    dense = DenseGraphAFBaseline(model).to(device)
    with torch.no_grad():
        nodes = torch.full((packed.node_target.numel(), model.num_node_classes), 0.5, device=device)
        edges = torch.full((packed.edge_target.numel(), 4), 0.5, device=device)
        z_n, ld_n, z_e, ld_e = model.step_latents(packed, nodes, edges)
        ours = torch.zeros(len(graphs), device=device)
        ours.index_add_(0, packed.node_mol, -0.5 * (z_n**2 + math.log(2 * math.pi)).sum(1) + ld_n)
        ours.index_add_(0, packed.edge_mol, -0.5 * (z_e**2 + math.log(2 * math.pi)).sum(1) + ld_e)
        batch = dense.dense_batch(graphs, device)
        n_nodes = model.vocab.max_atoms + 1
        theirs = dense.log_likelihood(
            batch,
            torch.full((len(graphs), n_nodes, model.num_node_classes), 0.5, device=device),
            torch.full((len(graphs), len(dense.edge_i), 4), 0.5, device=device),
        )
    return float((ours - theirs).abs().max() / ours.abs().max())


def quality(task: MoleculeTask, model: GraphAF, train: list[str], test: list[str], n: int, args) -> dict:
    from flowstudio.molecules.metrics import evaluate

    task.model = model
    model.eval()
    nll = task.validation_metric()
    out = generate(model, n, temperature=task.values["temperature"], check=True, seed=0)
    unchecked = generate(model, n, temperature=task.values["temperature"], check=False, seed=1)
    metrics = evaluate(
        out.smiles, train, test, valid_without_check=out.validity_without_check,
        device=args.metrics_device, max_reference=args.reference, fcd=not args.no_fcd,
    )
    sizes = [m.GetNumAtoms() for m in out.mols if m is not None]
    return {
        "val_nll": nll, "valid": metrics["valid"], "valid_without_check": out.validity_without_check,
        "valid_no_check_mode": unchecked.validity, "unique": metrics["unique"], "novel": metrics["novel"],
        "FCD": metrics.get("FCD/Test", math.nan), "mean_atoms": float(np.mean(sizes)) if sizes else math.nan,
        "IntDiv": metrics.get("IntDiv1", math.nan),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--molecules", type=int, default=20000, help="training subset size")
    p.add_argument("--test-molecules", type=int, default=5000, help="held-out reference for FCD etc.")
    p.add_argument("--preset", default="quick", choices=("quick", "full"))
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda", "auto"))
    p.add_argument("--minutes", type=float, default=3.0, help="training budget of EACH model")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--samples", type=int, default=1000, help="molecules sampled for quality")
    p.add_argument("--gen", type=int, default=1000, help="molecules for FlowStudio's generation timing")
    p.add_argument("--baseline-gen", type=int, default=20, help="molecules for the baseline's timing")
    p.add_argument("--reference", type=int, default=5000, help="max reference molecules for metrics")
    p.add_argument("--no-fcd", action="store_true")
    p.add_argument("--rounds", type=int, default=5, help="alternating rounds of the throughput timing")
    p.add_argument("--checkpoint", type=Path, help="trained GraphAF weights (a run's best.pt) for the "
                   "generation timing; default: the model FlowStudio trained in this run")
    p.add_argument("--json", type=Path, help="also write the results as JSON here")
    p.add_argument("--throughput-only", action="store_true",
                   help="stop after the likelihood check and the alternating throughput rounds")
    args = p.parse_args(argv)

    torch.set_num_threads(args.threads)
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          "cpu" if args.device == "auto" else args.device)
    args.metrics_device = "cuda" if device.type == "cuda" else "cpu"
    t0 = time.perf_counter()
    train = read_smiles(args.data, args.molecules)
    test = read_smiles(args.data, args.test_molecules, skip=args.molecules + 1)
    torch.manual_seed(0)
    # The paper's model on both sides (the baseline has no valence features).
    task = MoleculeTask(train, args.preset, {"max_molecules": 0, "seed": 0, **PAPER_MODEL})
    task.to(device)
    print(f"data: {len(task.train_graphs)} train / {len(task.valid_graphs)} held-out graphs, "
          f"vocab {[a for a, _ in task.vocab.atoms]}, max_atoms {task.vocab.max_atoms}, "
          f"window {task.vocab.edge_window}; featurized in {time.perf_counter() - t0:.1f}s; device {device}, "
          f"threads {torch.get_num_threads()}", flush=True)

    initial = copy.deepcopy(task.model.state_dict())
    agreement = check_same_likelihood(task, device)
    print(f"likelihood agreement (relative max difference): {agreement:.2e}", flush=True)

    results: dict = {"device": str(device), "threads": torch.get_num_threads(), "preset": args.preset,
                     "molecules": len(task.train_graphs), "minutes_each": args.minutes,
                     "likelihood_agreement": agreement, "batch_size": task.values["batch_size"]}
    results["throughput"] = interleaved_throughput(task, initial, args.rounds, device)
    print(f"throughput: {results['throughput']}", flush=True)
    if args.throughput_only:
        ratio = (results["throughput"]["flowstudio"]["molecules_per_s"]
                 / results["throughput"]["baseline"]["molecules_per_s"])
        results["ratios"] = {"training_throughput": ratio}
        print(f"training throughput ratio: {ratio:.2f}x", flush=True)
        if args.json:
            args.json.write_text(json.dumps(results, indent=1) + "\n")
        return 0
    models = {}
    for name, is_baseline in (("flowstudio", False), ("baseline", True)):
        model = GraphAF(task.vocab, task.model.config).to(device)
        model.load_state_dict(initial)
        results[f"train_{name}"] = train_for(task, model, args.minutes * 60, is_baseline, device)
        print(f"train {name}: {results[f'train_{name}']}", flush=True)
        models[name] = model

    for name, model in models.items():
        results[f"quality_{name}"] = quality(task, model, train, test, args.samples, args)
        print(f"quality {name}: {results[f'quality_{name}']}", flush=True)

    model = models["flowstudio"]
    if args.checkpoint:
        from flowstudio.training import load_checkpoint

        ckpt = load_checkpoint(args.checkpoint, expect_kind="molecules")
        trained = MoleculeTask.from_config(ckpt.config)
        trained.model.load_state_dict(ckpt.model_state)
        model = trained.model.to(device)
        results["generation_checkpoint"] = str(args.checkpoint)
    model.eval()
    generate(model, 50, temperature=task.values["temperature"], seed=5)  # warm-up
    sync(device)
    start = time.perf_counter()
    ours = generate(model, args.gen, temperature=task.values["temperature"], seed=2, batch_size=args.gen)
    sync(device)
    ours_s = time.perf_counter() - start
    dense = DenseGraphAFBaseline(model).to(device)
    torch.manual_seed(3)
    start = time.perf_counter()
    theirs = [dense.generate_one(task.values["temperature"]) for _ in range(args.baseline_gen)]
    sync(device)
    theirs_s = time.perf_counter() - start
    from rdkit import Chem

    def mean_atoms(smiles):
        sizes = [Chem.MolFromSmiles(s).GetNumAtoms() for s in smiles if s]
        return float(np.mean(sizes)) if sizes else math.nan

    results["generation"] = {
        "flowstudio_molecules_per_s": args.gen / ours_s,
        "baseline_molecules_per_s": args.baseline_gen / theirs_s,
        "flowstudio_mean_atoms": mean_atoms(ours.smiles),
        "baseline_mean_atoms": mean_atoms(theirs),
        "flowstudio_n": args.gen, "baseline_n": args.baseline_gen,
    }
    train_ratio = (results["throughput"]["flowstudio"]["molecules_per_s"]
                   / results["throughput"]["baseline"]["molecules_per_s"])
    gen_ratio = (results["generation"]["flowstudio_molecules_per_s"]
                 / results["generation"]["baseline_molecules_per_s"])
    results["ratios"] = {"training_throughput": train_ratio, "generation_throughput": gen_ratio}
    results["data_mean_atoms"] = float(np.mean([g.num_atoms for g in task.train_graphs]))
    print(json.dumps(results, indent=1))
    print(markdown(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    return 0


def markdown(r: dict) -> str:
    ours, base = r["quality_flowstudio"], r["quality_baseline"]
    tf, tb = r["train_flowstudio"], r["train_baseline"]
    pf, pb = r["throughput"]["flowstudio"], r["throughput"]["baseline"]
    g = r["generation"]
    rows = [
        "| measure | FlowStudio | baseline (paper-style) | ratio |",
        "| --- | --- | --- | --- |",
        f"| training throughput (molecules/s, interleaved rounds) | {pf['molecules_per_s']:.1f} "
        f"| {pb['molecules_per_s']:.2f} | **{r['ratios']['training_throughput']:.1f}x** |",
        f"| generation throughput (molecules/s, with check) | {g['flowstudio_molecules_per_s']:.1f} "
        f"| {g['baseline_molecules_per_s']:.2f} | **{r['ratios']['generation_throughput']:.0f}x** |",
        f"| molecules sampled per generation run | {r['generation']['flowstudio_n']} "
        f"| {r['generation']['baseline_n']} | |",
        f"| mean heavy atoms of those samples | {g['flowstudio_mean_atoms']:.1f} "
        f"| {g['baseline_mean_atoms']:.1f} | |",
        f"| training steps in the {r['minutes_each']:g}-min budget | {tf['steps']} | {tb['steps']} | "
        f"{tf['steps'] / max(tb['steps'], 1):.1f}x |",
        f"| held-out NLL (nats/molecule, lower is better) | {ours['val_nll']:.1f} | {base['val_nll']:.1f} "
        f"| {ours['val_nll'] / base['val_nll']:.2f} |",
    ]
    for key, label in (("valid", "validity (check)"), ("valid_without_check", "validity without check"),
                       ("unique", "uniqueness"), ("novel", "novelty"), ("IntDiv", "IntDiv1"),
                       ("FCD", "FCD/Test (lower is better)"), ("mean_atoms", "mean heavy atoms of samples")):
        a, b = ours[key], base[key]
        ratio = a / b if b else math.nan
        rows.append(f"| {label} | {a:.3f} | {b:.3f} | {ratio:.2f} |")
    rows.append(f"| mean heavy atoms of the data | {r['data_mean_atoms']:.2f} | | |")
    return "\n".join(rows)


if __name__ == "__main__":
    raise SystemExit(main())
