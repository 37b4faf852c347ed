"""A relational graph convolutional network over many small graphs packed together.

Schlichtkrull et al. 2018, as GraphAF uses it (§3.2): with one weight matrix per bond type
``r`` and a self connection,

    H^{l+1}_v = act( H^l_v W^l_self + sum_r sum_{u in N_r(v)} H^l_u W^l_r ),

summed (not averaged) over neighbours. The graphs of a batch are one disjoint union:
``src``/``dst``/``rel`` list the directed edges, and no (B, N, N, R) adjacency tensor is
ever built. The input of the first layer is one-hot, so that layer is an embedding lookup.

Two equivalent evaluations of the same sums (they differ only in float rounding):

- *edge form* (:meth:`RelationalGCN.forward` without operators): project every node by
  all ``R + 1`` matrices, gather one projection per edge and segment-sum at ``dst``.
- *operator form* (with :class:`GraphOperators`, built once per batch by the packing
  step): by linearity ``sum_u H_u W_r = (A_r H) W_r``, so each layer is one sparse CSR
  product ``A H`` (``A`` stacks the ``R`` adjacencies, (n R, n)) followed by one dense
  matmul with the stacked relation weights; the first layer reduces to a dense
  ``(n, T R)`` matrix of neighbour-type counts. No per-edge intermediate is built, and
  the backward pass uses the precomputed transpose instead of zero-fills and scatters.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
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


def sum_operator(rows: Tensor, cols: Tensor, num_rows: int, num_cols: int) -> Tensor:
    """The (num_rows, num_cols) 0/1 CSR matrix with ones at ``(rows[k], cols[k])`` (distinct
    pairs), so that ``op @ x`` is ``out[rows[k]] += x[cols[k]]``. Built on the CPU with numpy
    (single-threaded: on busy shared cores torch's parallel sort/bincount hand-offs cost more
    than the work); move it with ``.to(device)``."""
    r, c = rows.cpu().numpy(), cols.cpu().numpy()
    order = np.argsort(r * num_cols + c, kind="stable")
    crow = np.zeros(num_rows + 1, np.int64)
    np.cumsum(np.bincount(r, minlength=num_rows), out=crow[1:])
    values = torch.ones(len(r), dtype=torch.float32)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        shape = (num_rows, num_cols)
        return torch.sparse_csr_tensor(
            torch.from_numpy(crow), torch.from_numpy(c[order]), values, shape, check_invariants=False
        )


class _SparseSum(torch.autograd.Function):
    """``op @ x`` with the gradient ``op^T @ g`` from a precomputed transpose."""

    @staticmethod
    def forward(ctx, x: Tensor, op: Tensor, op_t: Tensor) -> Tensor:  # type: ignore[override]
        ctx.op_t = op_t
        return torch.sparse.mm(op, x)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None, None]:  # type: ignore[override]
        return torch.sparse.mm(ctx.op_t, grad.contiguous()), None, None


def sparse_sum(x: Tensor, op: Tensor, op_t: Tensor) -> Tensor:
    """``op @ x`` for a CSR ``op`` (its transpose ``op_t`` gives the backward pass)."""
    return _SparseSum.apply(x, op.to(x.dtype), op_t.to(x.dtype))


@dataclass
class GraphOperators:
    """Per-batch constants of the operator form (see the module docstring)."""

    adjacency: Tensor  # CSR (n R, n): row v R + r sums the relation-r neighbours of v
    adjacency_t: Tensor  # its transpose, CSR (n, n R)
    type_counts: Tensor  # (n, T R) float: neighbours of v of type t through relation r
    degree: Tensor  # (n, R) float: relation-r degree of v (each message adds W_r's bias)
    # Optional readout (see RelationalGCN.readout): rows that select or sum nodes.
    readout: Tensor | None = None  # CSR (m, n)
    readout_t: Tensor | None = None  # its transpose
    readout_count: Tensor | None = None  # (m, 1) float: nodes summed by each row
    readout_degree: Tensor | None = None  # (m, R) float: readout @ degree

    @classmethod
    def build(
        cls, atom_types: Tensor, src: Tensor, dst: Tensor, rel: Tensor, num_types: int, num_relations: int
    ) -> GraphOperators:
        n, r = atom_types.numel(), num_relations
        types, s, d, k = (t.cpu().numpy() for t in (atom_types, src, dst, rel))
        key = d * r + k
        counts = np.bincount(key * num_types + types[s], minlength=n * r * num_types)
        type_counts = counts.reshape(n, r, num_types).transpose(0, 2, 1).reshape(n, num_types * r)
        key_t, src_t = torch.from_numpy(key), torch.from_numpy(s)
        return cls(
            adjacency=sum_operator(key_t, src_t, n * r, n),
            adjacency_t=sum_operator(src_t, key_t, n, n * r),
            type_counts=torch.from_numpy(type_counts.astype(np.float32)),
            degree=torch.from_numpy(np.bincount(key, minlength=n * r).reshape(n, r).astype(np.float32)),
        )

    def with_readout(self, rows: Tensor, cols: Tensor, num_rows: int) -> GraphOperators:
        """Add the readout ``out[rows[k]] += node[cols[k]]`` ((rows, cols) pairs distinct)."""
        n = self.degree.shape[0]
        self.readout = sum_operator(rows, cols, num_rows, n)
        self.readout_t = sum_operator(cols, rows, n, num_rows)
        r, c = rows.cpu().numpy(), cols.cpu().numpy()
        count = np.bincount(r, minlength=num_rows).astype(np.float32)
        self.readout_count = torch.from_numpy(count).unsqueeze(1)
        degree = self.degree.cpu().numpy()
        summed = [np.bincount(r, weights=degree[c, k], minlength=num_rows) for k in range(degree.shape[1])]
        self.readout_degree = torch.from_numpy(np.stack(summed, axis=1).astype(np.float32))
        return self

    def to(self, device: torch.device) -> GraphOperators:
        values = (getattr(self, k) for k in self.__dataclass_fields__)
        return GraphOperators(*(v.to(device) if v is not None else None for v in values))


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

    def operators(self, atom_types: Tensor, src: Tensor, dst: Tensor, rel: Tensor) -> GraphOperators:
        """The :class:`GraphOperators` of a packed batch (build once, reuse per layer)."""
        return GraphOperators.build(atom_types, src, dst, rel, self.num_atom_types, self.num_relations)

    def forward(
        self, atom_types: Tensor, src: Tensor, dst: Tensor, rel: Tensor, ops: GraphOperators | None = None
    ) -> Tensor:
        """Node features (n, hidden) of the packed graphs.

        Args:
            atom_types: (n,) vocabulary index of every node.
            src, dst: (e,) directed edges ``src -> dst`` (list both directions).
            rel: (e,) relation (bond class minus one) of every edge.
            ops: the batch's :meth:`operators`; selects the operator form.
        """
        if ops is not None:
            return self._forward_operators(atom_types, ops)
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

    def _forward_operators(self, atom_types: Tensor, ops: GraphOperators, last: bool = True) -> Tensor:
        """All layers (``last=False``: all but the last one, whose input is returned)."""
        h = self.input_self(atom_types) + self.input_bias
        h = torch.addmm(h, ops.type_counts.to(h.dtype), self.input_relation.weight)
        layers = self.layers if last else self.layers[:-1]
        for layer in layers:
            h = torch.relu(h)
            aggregated = sparse_sum(h, ops.adjacency, ops.adjacency_t)
            h = self._layer_output(layer, h, aggregated, ops.degree, None)
        return h

    def _layer_output(
        self, layer: nn.Linear, h: Tensor, aggregated: Tensor, degree: Tensor, count: Tensor | None
    ) -> Tensor:
        """``h W_self + sum_r (A_r h) W_r`` plus the biases (``count`` self terms per row)."""
        r, d = self.num_relations, self.hidden
        weight = layer.weight.view(r + 1, d, d)  # [k] maps inputs to outputs as (out, in)
        bias = layer.bias.view(r + 1, d)
        base = bias[r] if count is None else count.to(h.dtype) * bias[r]
        out = torch.addmm(base, h, weight[r].t())
        out = torch.addmm(out, degree.to(h.dtype), bias[:r])
        stacked = weight[:r].transpose(1, 2).reshape(r * d, d)
        return torch.addmm(out, aggregated.view(h.shape[0], r * d), stacked)

    def readout(self, atom_types: Tensor, ops: GraphOperators) -> Tensor:
        """``ops.readout @ R-GCN(nodes)``: selected node embeddings and sum-pooled graphs.

        The last layer is linear in its input, so it is applied after the readout, on the
        m readout rows instead of the n nodes: the read-out rows of its input and of its
        aggregated messages are formed first (a row that sums k nodes gets k self biases).
        """
        assert ops.readout is not None and ops.readout_t is not None
        assert ops.readout_count is not None and ops.readout_degree is not None
        h = self._forward_operators(atom_types, ops, last=False)
        if not len(self.layers):
            return sparse_sum(h, ops.readout, ops.readout_t)
        h = torch.relu(h)
        aggregated = sparse_sum(h, ops.adjacency, ops.adjacency_t).view(h.shape[0], -1)
        h_out = sparse_sum(h, ops.readout, ops.readout_t)
        aggregated_out = sparse_sum(aggregated, ops.readout, ops.readout_t)
        return self._layer_output(
            self.layers[-1], h_out, aggregated_out, ops.readout_degree, ops.readout_count
        )
