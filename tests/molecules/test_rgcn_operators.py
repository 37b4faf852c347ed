"""The R-GCN's operator form (precomputed CSR operators, readout before the last layer)
computes the same values and gradients as its edge form."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from rdkit import Chem

from flowstudio.molecules.graph import build_vocabulary
from flowstudio.molecules.graphaf import GraphAF, GraphAFConfig
from flowstudio.molecules.packing import pack_steps
from tests.molecules.test_graph import SMILES
from tests.molecules.test_graphaf import _ordered, _randomize


@pytest.mark.parametrize("layers", [1, 2, 3])
def test_operator_form_matches_the_edge_form_with_gradients(layers: int) -> None:
    mols = [Chem.MolFromSmiles(s) for s in SMILES[:8]]
    vocab = build_vocabulary(mols)
    torch.manual_seed(layers)
    model = GraphAF(vocab, GraphAFConfig(hidden=16, rgcn_layers=layers, flow_layers=2, st_hidden=8))
    _randomize(model)
    model = model.double()
    packed = pack_steps(_ordered(mols, vocab), vocab)
    assert packed.ops is not None
    edge_form = dataclasses.replace(packed, ops=None)
    node_noise = torch.rand(packed.node_target.numel(), model.node_latent_dim, dtype=torch.float64)
    edge_noise = torch.rand(packed.edge_target.numel(), 4, dtype=torch.float64)

    def run(p):
        model.zero_grad()
        z_n, ld_n, z_e, ld_e = model.step_latents(p, node_noise, edge_noise)
        total = (z_n**2).sum() + ld_n.sum() + (z_e**2).sum() + ld_e.sum()
        total.backward()
        return [t.detach().clone() for t in (z_n, ld_n, z_e, ld_e)], {
            k: v.grad.clone() for k, v in model.rgcn.named_parameters()
        }

    values_op, grads_op = run(packed)
    values_edge, grads_edge = run(edge_form)
    for a, b in zip(values_op, values_edge, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9)
    for name, grad in grads_edge.items():
        torch.testing.assert_close(grads_op[name], grad, rtol=1e-9, atol=1e-9, msg=name)
    # the plain forward with operators gives every node's embedding
    args = (packed.inst_type, packed.edge_src, packed.edge_dst, packed.edge_rel)
    with torch.no_grad():
        torch.testing.assert_close(model.rgcn(*args, packed.ops), model.rgcn(*args), rtol=1e-9, atol=1e-9)
