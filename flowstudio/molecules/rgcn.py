"""A relational graph convolutional network over many small graphs packed together.

Schlichtkrull et al. 2018, as GraphAF uses it (§3.2): with one weight matrix per bond type
``r`` and a self connection,

    H^{l+1}_v = act( H^l_v W^l_self + sum_r sum_{u in N_r(v)} H^l_u W^l_r ),

summed (not averaged) over neighbours. The graphs of a batch are one disjoint union:
``src``/``dst``/``rel`` list the directed edges, and aggregation is a single
``index_add_`` (a segment sum), so no (B, N, N, R) adjacency tensor is ever built. The
input of the first layer is one-hot, so that layer is an embedding lookup.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def segment_sum(values: Tensor, index: Tensor, size: int, out: Tensor | None = None) -> Tensor:
    """``out[index[k]] += values[k]`` into ``size`` rows (``out`` is zeros when not given).

    On the CPU ``index_put_(accumulate=True)`` is used: ``index_add`` there parallelizes so
    finely that on two busy cores its thread hand-offs cost milliseconds per call. On CUDA
    ``index_add`` (atomic adds) is the fast one.
    """
    if out is None:
        out = values.new_zeros((size, *values.shape[1:]))
    if values.is_cuda:
        return out.index_add(0, index, values)
    return out.index_put((index,), values, accumulate=True)


class RelationalGCN(nn.Module):
    """``num_layers`` relational convolutions from atom types to ``hidden`` features."""

    def __init__(self, num_atom_types: int, num_relations: int, hidden: int, num_layers: int) -> None:
        super().__init__()
        if num_layers < 1:
            raise ValueError("the R-GCN needs at least one layer")
        self.num_atom_types = num_atom_types
        self.num_relations = num_relations
        self.hidden = hidden
        # Layer 1 on one-hot inputs: row t of W_self (resp. W_r) is a lookup by type t.
        self.input_self = nn.Embedding(num_atom_types, hidden)
        self.input_relation = nn.Embedding(num_atom_types * num_relations, hidden)
        self.input_bias = nn.Parameter(torch.zeros(hidden))
        # Later layers: one matmul gives [H W_1, ..., H W_R, H W_self] for every node.
        self.layers = nn.ModuleList(
            nn.Linear(hidden, hidden * (num_relations + 1)) for _ in range(num_layers - 1)
        )
        for emb in (self.input_self, self.input_relation):
            nn.init.normal_(emb.weight, std=hidden**-0.5)

    def forward(self, atom_types: Tensor, src: Tensor, dst: Tensor, rel: Tensor) -> Tensor:
        """Node features (n, hidden) of the packed graphs.

        Args:
            atom_types: (n,) vocabulary index of every node.
            src, dst: (e,) directed edges ``src -> dst`` (list both directions).
            rel: (e,) relation (bond class minus one) of every edge.
        """
        n = atom_types.shape[0]
        h = self.input_self(atom_types) + self.input_bias
        if src.numel():
            messages = self.input_relation(atom_types[src] * self.num_relations + rel)
            h = segment_sum(messages, dst, n, out=h)
        for layer in self.layers:
            h = torch.relu(h)
            projected = layer(h).view(n, self.num_relations + 1, self.hidden)
            out = projected[:, self.num_relations]
            if src.numel():
                out = segment_sum(projected[src, rel], dst, n, out=out)
            h = out
        return h
