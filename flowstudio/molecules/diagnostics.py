"""Invertibility diagnostics of GraphAF (see :mod:`flowstudio.flows.diagnostics`).

GraphAF (Shi et al. 2020) maps each generation step's dequantized one-hot choice
``x~ = onehot + c u`` to a Gaussian latent with an affine flow conditioned on the partial
graph (its Eq. 7-8); generation inverts that flow and takes the ``argmax``. The model is
exact only if, in float32 and with the trained weights, the inverse really undoes the
forward map. Checked on real molecules (and on the model's own samples, re-encoded):

* ``node_flow`` / ``edge_flow``: each step flow, with the conditions the model computed for
  that step of that molecule: the round trip ``x~ -> z -> x~`` of every step (dequantized
  with seeded uniform noise, as in training), ``log|det J|`` against the autograd Jacobian
  of the step's map on a few steps (4 and K dimensions: small), and local Lipschitz
  estimates of the forward map at the inputs and of the inverse at draws of the base noise;
* ``graph_round_trip``: the molecule encoded (midpoint dequantization, the latent of
  :mod:`flowstudio.molecules.latent`), its node and edge latents decoded back step by step
  through the model (its R-GCN recomputing every condition from the graph decoded so far,
  END decisions included), and the graph compared with the original (canonical SMILES).

The END decision is a logistic classifier with an exact latent
(:mod:`flowstudio.molecules.end_step`), not an affine flow: the graph round trip covers it,
as it covers the atom and bond steps of models with ``categorical_steps``
(:mod:`flowstudio.molecules.categorical_step`), which have no Jacobian to check.
Flags use the library's thresholds (the one-hot inputs have unit scale, and ``argmax``
has a margin of at least 1/2, so a round trip off by 1e-2 is already far from safe).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from rdkit import Chem
from torch import Tensor

from flowstudio.errors import BadInputError
from flowstudio.flows import diagnostics as checks
from flowstudio.flows.conditional_affine import ConditionalAffineStack
from flowstudio.flows.parametrized import ParametrizedTransform
from flowstudio.molecules.chem import canonical_smiles
from flowstudio.molecules.generate import generate
from flowstudio.molecules.graph import NUM_EDGE_CLASSES, apply_order, fitting_order, mol_to_graph
from flowstudio.molecules.graphaf import GraphAF
from flowstudio.molecules.latent import decode_latents, encode
from flowstudio.molecules.packing import pack_steps

DIAGNOSED_MOLECULES = 32
"""Data molecules (and as many samples) checked."""
LOG_DET_STEPS = 8
"""Steps of each flow whose full Jacobian is taken."""
LIPSCHITZ_STEPS = 256
"""Steps of each flow perturbed for each Lipschitz estimate."""


@dataclass
class _Calls:
    """What a step flow was applied to: its conditions and inputs, in call order."""

    contexts: list[Tensor] = field(default_factory=list)
    inputs: list[Tensor] = field(default_factory=list)


@dataclass(frozen=True)
class _Recorded(ParametrizedTransform):
    """A step's transform that notes each input it maps forward, with its conditions."""

    inner: ParametrizedTransform
    context: Tensor
    calls: _Calls

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        self.calls.contexts.append(self.context)
        self.calls.inputs.append(x)
        return self.inner.forward(x)

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        return self.inner.inverse(z)

    def select(self, index: Tensor) -> ParametrizedTransform:
        return _Recorded(self.inner.select(index), self.context[index], self.calls)


@contextlib.contextmanager
def _recording(stack: ConditionalAffineStack) -> Iterator[_Calls]:
    """Within the block, every ``stack.at(c).forward(x)`` the model runs is noted: the
    checks then run on exactly the conditions and inputs the model computed."""
    calls = _Calls()

    def at(pre_activation: Tensor) -> ParametrizedTransform:
        return _Recorded(ConditionalAffineStack.at(stack, pre_activation), pre_activation, calls)

    stack.at = at  # type: ignore[method-assign]
    try:
        yield calls
    finally:
        del stack.at


def diagnose(
    model: GraphAF,
    mols: list[Chem.Mol] | None = None,
    names: list[str] | None = None,
    *,
    n_molecules: int = DIAGNOSED_MOLECULES,
    log_det_steps: int = LOG_DET_STEPS,
    worst: int = 5,
    seed: int = 0,
) -> dict[str, Any]:
    """The diagnostics of a GraphAF model as a JSON-able dict with ``flags`` and ``healthy``.

    ``mols`` are the data checked (the first ``n_molecules`` the model can encode; the others
    are counted in ``data_skipped``); as many molecules drawn from the model (temperature 1,
    valency check) are checked too."""
    was_training = model.training
    model.eval()
    try:
        data, data_names, skipped = _encodable(model, mols or [], names, n_molecules)
        drawn = [m for m in generate(model, n_molecules, temperature=1.0, check=True, seed=seed).mols if m]
        sample_names = [f"sample_{i:03d}" for i in range(len(drawn))]
        generator = torch.Generator().manual_seed(seed)
        stacks = _step_flows(model)
        steps = (
            {what: _step_inputs(model, rows, seed) for what, rows in (("data", data), ("samples", drawn))}
            if stacks
            else {}
        )
        flows = {
            name: _check_flow(
                stack, {what: None if calls is None else calls[i] for what, calls in steps.items()},
                {"data": data_names, "samples": sample_names}, log_det_steps, worst, generator,
            )
            for i, (name, stack) in enumerate(stacks)
        }
        graphs = {
            "data": _graph_round_trip(model, data, data_names, seed, worst),
            "samples": _graph_round_trip(model, drawn, sample_names, seed, worst),
        }
    finally:
        model.train(was_training)
    found = [flag for name, section in flows.items() for flag in checks.flags(name, section)]
    found += [
        f"graph round trip on {what}: {trip['failed']} of {trip['molecules']} molecules decode to another "
        "graph: the latent does not identify the molecule"
        for what, trip in graphs.items()
        if trip["failed"]
    ]
    return {
        "model": "graphaf",
        "data_molecules": len(data),
        "data_skipped": skipped,
        "sample_molecules": len(drawn),
        "flows": flows,
        "graph_round_trip": graphs,
        "thresholds": checks.thresholds(),
        "flags": found,
        "healthy": not found,
    }


def _step_flows(model: GraphAF) -> tuple[tuple[str, ConditionalAffineStack], ...]:
    """The model's step flows (none when its steps are classifiers)."""
    if not isinstance(model.node_flow, ConditionalAffineStack) or not isinstance(
        model.edge_flow, ConditionalAffineStack
    ):
        return ()
    return (("node_flow", model.node_flow), ("edge_flow", model.edge_flow))


def _encodable(
    model: GraphAF, mols: list[Chem.Mol], names: list[str] | None, n: int
) -> tuple[list[Chem.Mol], list[str], int]:
    """The first ``n`` molecules the model can encode, their names, and how many it cannot."""
    vocab = model.vocab
    kept, kept_names, skipped = [], [], 0
    for k, mol in enumerate(mols):
        if len(kept) == n:
            break
        try:
            graph = mol_to_graph(mol, vocab)
        except BadInputError:
            skipped += 1
            continue
        if graph.num_atoms > vocab.max_atoms or fitting_order(graph, vocab.edge_window, None) is None:
            skipped += 1
            continue
        kept.append(mol)
        kept_names.append(names[k] if names and names[k] else canonical_smiles(mol))
    return kept, kept_names, skipped


@dataclass(frozen=True)
class _Steps:
    """One step flow's conditions (M, L * hidden), inputs (M, d) and row labels."""

    contexts: Tensor
    inputs: Tensor
    labels: list[dict[str, Any]]


@torch.no_grad()
def _step_inputs(model: GraphAF, mols: list[Chem.Mol], seed: int) -> tuple[_Steps, _Steps] | None:
    """The node and edge steps of ``mols`` (one seeded BFS order each, dequantized with
    seeded uniform noise) as the model conditions them."""
    if not mols:
        return None
    rng = np.random.default_rng(seed)
    graphs = []
    for mol in mols:
        graph = mol_to_graph(mol, model.vocab)
        order = fitting_order(graph, model.vocab.edge_window, rng)
        assert order is not None  # kept by _encodable
        graphs.append(apply_order(graph, order))
    device = next(model.parameters()).device
    packed = pack_steps(graphs, model.vocab).to(device)
    generator = torch.Generator().manual_seed(seed)
    node_noise = torch.rand((packed.node_target.numel(), model.node_latent_dim), generator=generator)
    edge_noise = torch.rand((packed.edge_target.numel(), NUM_EDGE_CLASSES), generator=generator)
    with _recording(model.node_flow) as nodes, _recording(model.edge_flow) as edges:
        model.step_latents(packed, node_noise.to(device), edge_noise.to(device))
    node_mol = packed.node_mol
    if model.has_end_step:  # the END steps are the classifier's, not the flow's
        node_mol = node_mol[packed.node_target != model.end_class]
    return (
        _Steps(torch.cat(nodes.contexts), torch.cat(nodes.inputs), _labels(node_mol, "node")),
        _Steps(torch.cat(edges.contexts), torch.cat(edges.inputs), _labels(packed.edge_mol, "edge")),
    )


def _labels(molecule_of_step: Tensor, kind: str) -> list[dict[str, Any]]:
    """``{"molecule": k, "step": j}``: the j-th step of this kind of molecule k."""
    owners = molecule_of_step.cpu().numpy()
    counts: dict[int, int] = {}
    labels = []
    for owner in owners.tolist():
        labels.append({"molecule": owner, "step": f"{kind} {counts.get(owner, 0)}"})
        counts[owner] = counts.get(owner, 0) + 1
    return labels


def _check_flow(
    stack: ConditionalAffineStack,
    steps: dict[str, _Steps | None],
    names: dict[str, list[str]],
    log_det_steps: int,
    worst: int,
    generator: torch.Generator,
) -> dict[str, Any]:
    """Round trips on data and samples, log-det against autograd, Lipschitz estimates."""
    section: dict[str, Any] = {}
    for what, rows in steps.items():
        if rows is None:
            section[f"round_trip_{what}"] = None
            continue
        errors = checks.round_trip_errors(stack, rows.inputs, rows.contexts)
        labels = [{**label, "name": names[what][label["molecule"]]} for label in rows.labels]
        section[f"round_trip_{what}"] = checks.error_summary(errors, labels, worst)
    rows = steps["data"] or steps["samples"]
    if rows is None:
        return section
    pick = torch.randperm(len(rows.inputs), generator=generator)[:log_det_steps]
    ld_errors = checks.log_det_errors(stack, rows.inputs[pick], rows.contexts[pick])
    section["log_det"] = {"rows": len(pick), **checks.error_summary(ld_errors, [{}] * len(pick), 1)}
    section["log_det"].pop("worst")
    some = torch.randperm(len(rows.inputs), generator=generator)[:LIPSCHITZ_STEPS]
    x, ctx = rows.inputs[some], rows.contexts[some]
    z = torch.randn(x.shape, generator=generator, dtype=x.dtype)
    forward = checks.lipschitz_estimate(checks.forward_value(stack), x, ctx, generator=generator)
    inverse = checks.lipschitz_estimate(stack.inverse_value, z, ctx, generator=generator)
    section["lipschitz"] = {"forward": _finite(forward), "inverse": _finite(inverse)}
    return section


def _graph_round_trip(
    model: GraphAF, mols: list[Chem.Mol], names: list[str], seed: int, worst: int
) -> dict[str, Any]:
    """Encode each molecule and decode its latent; the molecules that come back different."""
    if not mols:
        return {"molecules": 0, "failed": 0, "worst": []}
    decoded = decode_latents(model, encode(model, mols, seed=seed))
    failed = [
        {"name": name, "smiles": _graph_smiles(mol), "decoded": _graph_smiles(back)}
        for mol, name, back in zip(mols, names, decoded.mols, strict=True)
        if _graph_smiles(back) != _graph_smiles(mol)
    ]
    return {"molecules": len(mols), "failed": len(failed), "worst": failed[:worst]}


def _graph_smiles(mol: Chem.Mol | None) -> str | None:
    """Canonical SMILES without stereochemistry (GraphAF's graphs carry none)."""
    return None if mol is None else Chem.MolToSmiles(mol, isomericSmiles=False)


def _finite(value: float) -> float | None:
    return value if np.isfinite(value) else None
