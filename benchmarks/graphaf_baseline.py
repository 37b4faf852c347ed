"""PAPER-STYLE BASELINE, for benchmarks only: GraphAF computed the way its reference code does.

This is *not* FlowStudio's implementation; it exists so that ``graphaf_bench.py`` can
compare against a straightforward, faithful re-implementation in the style of the
authors' released code (``MaskedGraphAF``):

- training: every molecule is padded to ``max_atoms`` and unrolled into *all* generation
  steps of a maximum-size molecule; for every step a dense masked adjacency
  ``(max_atoms, max_atoms, bond types)`` and a masked node-feature matrix are built
  (``(B, steps, R, N, N)`` in all), and the R-GCN runs densely on every one of them;
- each of the ``L`` flow layers has its own conditioner evaluated in a Python loop;
- generation: one molecule at a time, re-running the dense R-GCN at every step.

It shares the parameter layout of :class:`flowstudio.molecules.graphaf.GraphAF` (it wraps
one), so both compute the same log-likelihood and a model trained by either can be sampled
by either; the benchmark checks that their likelihoods agree.
"""

from __future__ import annotations

import numpy as np
import torch
from rdkit import Chem
from torch import Tensor

from flowstudio.flows.distributions import standard_normal_log_prob
from flowstudio.flows.parametrized import AffineLayers
from flowstudio.molecules.graph import NUM_EDGE_CLASSES, OrderedGraph, graph_to_mol
from flowstudio.molecules.graphaf import GraphAF
from flowstudio.molecules.packing import edge_step_pairs

R = NUM_EDGE_CLASSES - 1


class DenseGraphAFBaseline:
    """The reference-style computation over a :class:`GraphAF`'s parameters."""

    def __init__(self, model: GraphAF) -> None:
        m = model
        additions = (m.edge_first_room, m.edge_first_order, m.edge_flow.angles_out, m.stop_logit)
        if any(part is not None for part in additions):
            raise ValueError("the paper-style baseline is the paper's model: build the GraphAF with "
                             "valence_features, order_features, full_covariance and end_step off, "
                             "so that both sides compute the same model")
        self.model = model
        vocab = model.vocab
        self.n = vocab.max_atoms
        self.k = vocab.size
        ei, ej = edge_step_pairs(self.n, vocab.edge_window)
        self.edge_i, self.edge_j = torch.from_numpy(ei), torch.from_numpy(ej)
        self.masks = self._step_masks()

    # ---- the reference code's positional masks, one per generation step ----------------
    def _step_masks(self) -> tuple[Tensor, Tensor]:
        n = self.n
        steps_node = n + 1
        steps = steps_node + len(self.edge_i)
        node_mask = torch.zeros(steps, n)
        edge_mask = torch.zeros(steps, n, n)
        lower = torch.tril(torch.ones(n, n), diagonal=-1)
        for i in range(steps_node):  # node step i: atoms < i and all their bonds
            node_mask[i, :i] = 1
            edge_mask[i, :i, :i] = lower[:i, :i]
        for s, (i, j) in enumerate(zip(self.edge_i.tolist(), self.edge_j.tolist(), strict=True)):
            row = steps_node + s  # edge step (i, j): atoms <= i, bonds of i to j' < j
            node_mask[row, : i + 1] = 1
            edge_mask[row, :i, :i] = lower[:i, :i]
            edge_mask[row, i, :j] = 1
        edge_mask = torch.maximum(edge_mask, edge_mask.transpose(1, 2))
        return node_mask, edge_mask

    def to(self, device: torch.device) -> DenseGraphAFBaseline:
        self.masks = tuple(m.to(device) for m in self.masks)
        self.edge_i, self.edge_j = self.edge_i.to(device), self.edge_j.to(device)
        return self

    # ---- dense R-GCN ----------------------------------------------------------------------
    def dense_rgcn(self, x: Tensor, adj: Tensor) -> Tensor:
        """x (M, N, K) one-hot (zero rows for absent atoms), adj (M, R, N, N) -> (M, N, d)."""
        rgcn = self.model.rgcn
        w_rel = rgcn.input_relation.weight.view(self.k, R, -1)
        h = x @ rgcn.input_self.weight + rgcn.input_bias
        for r in range(R):
            h = h + adj[:, r] @ (x @ w_rel[:, r])
        for layer in rgcn.layers:
            h = torch.relu(h)
            projected = layer(h).view(*h.shape[:2], R + 1, -1)
            out = projected[:, :, R]
            for r in range(R):
                out = out + adj[:, r] @ projected[:, :, r]
            h = out
        return h

    def _flow_params(self, which: str, cond: Tensor, offset: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """One conditioner per flow layer, evaluated in a loop (as the reference code does)."""
        m = self.model
        flow = m.node_flow if which == "node" else m.edge_flow
        if which == "node":
            weight, bias = m.node_first.weight, m.node_first.bias
        else:
            weight = torch.cat([m.edge_first_graph.weight, m.edge_first_i.weight, m.edge_first_j.weight], 1)
            bias = m.edge_first_graph.bias + m.edge_first_offset.weight[offset]  # (n, L * h)
        h = flow.hidden
        scales, shifts = [], []
        for layer in range(flow.num_layers):
            rows = slice(layer * h, (layer + 1) * h)
            hidden = torch.relu(cond @ weight[rows].T + bias[..., rows])
            out = hidden @ flow.out_weight[layer] + flow.out_bias[layer]
            raw, shift = out.split(flow.features, dim=-1)
            scales.append(flow.scale_bound * torch.tanh(raw / flow.scale_bound))
            shifts.append(shift)
        return torch.stack(scales, 1), torch.stack(shifts, 1)

    # ---- teacher-forced likelihood --------------------------------------------------------
    def dense_batch(self, graphs: list[OrderedGraph], device: torch.device) -> dict[str, Tensor]:
        b, n = len(graphs), self.n
        atoms = torch.full((b, n), -1, dtype=torch.long)
        adj = torch.zeros(b, R, n, n)
        sizes = torch.tensor([len(g.atoms) for g in graphs])
        for k, g in enumerate(graphs):
            atoms[k, : len(g.atoms)] = torch.from_numpy(g.atoms)
            if len(g.bonds):
                i, j, t = (torch.from_numpy(g.bonds[:, c]) for c in range(3))
                adj[k, t - 1, i, j] = 1
                adj[k, t - 1, j, i] = 1
        return {"atoms": atoms.to(device), "adj": adj.to(device), "sizes": sizes.to(device)}

    def log_likelihood(
        self, batch: dict[str, Tensor], node_noise: Tensor | None = None, edge_noise: Tensor | None = None
    ) -> Tensor:
        """Per-molecule log-likelihood; noise (B, n+1, K+1) and (B, edge steps, 4) or random."""
        m = self.model
        atoms, adj, sizes = batch["atoms"], batch["adj"], batch["sizes"]
        b, n = atoms.shape
        node_mask, edge_mask = self.masks
        steps = node_mask.shape[0]
        x = torch.nn.functional.one_hot(atoms.clamp(min=0), self.k).float() * (atoms >= 0).unsqueeze(-1)
        # The dense per-step copies: (B, S, N, K) and (B, S, R, N, N).
        x_steps = x.unsqueeze(1) * node_mask.view(1, steps, n, 1)
        adj_steps = adj.unsqueeze(1) * edge_mask.view(1, steps, 1, n, n)
        h = self.dense_rgcn(x_steps.reshape(b * steps, n, self.k), adj_steps.reshape(b * steps, R, n, n))
        h = h.view(b, steps, n, -1) * node_mask.view(1, steps, n, 1)
        graph = h.sum(2)

        n_node = n + 1
        position = torch.arange(n_node, device=atoms.device)
        padded = torch.cat([atoms, atoms.new_full((b, 1), -1)], 1)
        node_target = torch.where(position.view(1, -1) < sizes.view(-1, 1), padded, m.end_class)
        node_valid = position.view(1, -1) <= sizes.view(-1, 1)
        xn = torch.nn.functional.one_hot(node_target.clamp(min=0), m.num_node_classes).float()
        xn = xn + m.config.dequantization * (node_noise if node_noise is not None else torch.rand_like(xn))
        s, t = self._flow_params("node", graph[:, :n_node].reshape(b * n_node, -1))
        z, ld = AffineLayers(s, t).forward(xn.view(b * n_node, -1))
        ll_node = ((standard_normal_log_prob(z) + ld).view(b, n_node) * node_valid).sum(1)

        ei, ej = self.edge_i, self.edge_j
        h_edges = h[:, n_node:]
        hi = h_edges[:, torch.arange(len(ei), device=ei.device), ei]
        hj = h_edges[:, torch.arange(len(ei), device=ei.device), ej]
        cond = torch.cat([graph[:, n_node:], hi, hj], -1)
        # bond class (0 for none) from the one-hot adjacency
        edge_target = (adj * torch.arange(1, R + 1, device=adj.device).view(1, R, 1, 1)).sum(1).long()
        edge_target = edge_target[:, ei, ej]
        edge_valid = ei.view(1, -1) < sizes.view(-1, 1)
        xe = torch.nn.functional.one_hot(edge_target, NUM_EDGE_CLASSES).float()
        xe = xe + m.config.dequantization * (edge_noise if edge_noise is not None else torch.rand_like(xe))
        offset = (ei - 1 - ej).repeat(b)
        s, t = self._flow_params("edge", cond.reshape(b * len(ei), -1), offset)
        z, ld = AffineLayers(s, t).forward(xe.view(b * len(ei), -1))
        ll_edge = ((standard_normal_log_prob(z) + ld).view(b, -1) * edge_valid).sum(1)
        return ll_node + ll_edge

    def loss(self, batch: dict[str, Tensor]) -> Tensor:
        return -self.log_likelihood(batch).mean()

    # ---- generation, one molecule at a time -----------------------------------------------
    @torch.no_grad()
    def generate_one(self, temperature: float, max_retries: int = 10) -> str | None:
        m = self.model
        device = m.node_first.weight.device
        n, window, end = self.n, m.vocab.edge_window, m.end_class
        max_valence = m.vocab.max_valences().tolist()
        atoms: list[int] = []
        valence = [0] * n
        adj = torch.zeros(1, R, n, n, device=device)
        bonds: list[tuple[int, int, int]] = []

        def embed() -> tuple[Tensor, Tensor]:
            x = torch.zeros(1, n, self.k, device=device)
            for pos, a in enumerate(atoms):
                x[0, pos, a] = 1
            h = self.dense_rgcn(x, adj)[0]
            h = h * (torch.arange(n, device=device) < len(atoms)).unsqueeze(1)
            return h, h.sum(0, keepdim=True)

        for i in range(n + 1):
            _, g = embed()
            s, t = self._flow_params("node", g)
            z = torch.randn(1, m.num_node_classes, device=device) * temperature
            x, _ = AffineLayers(s, t).inverse(z)
            choice = int(x[0, :end].argmax()) if i == 0 else int(x[0].argmax())
            if i == n or choice == end:
                break
            atoms.append(choice)
            connected = False
            for j in range(max(0, i - window), i):
                h, g = embed()
                offset = torch.tensor([i - 1 - j], device=device)
                s, t = self._flow_params("edge", torch.cat([g, h[i : i + 1], h[j : j + 1]], 1), offset)
                for _ in range(max_retries + 1):
                    z = torch.randn(1, NUM_EDGE_CLASSES, device=device) * temperature
                    klass = int(AffineLayers(s, t).inverse(z)[0][0].argmax())
                    room = min(max_valence[atoms[i]] - valence[i], max_valence[atoms[j]] - valence[j])
                    if klass <= room:
                        break
                else:
                    klass = 0
                if klass:
                    adj[0, klass - 1, i, j] = adj[0, klass - 1, j, i] = 1
                    valence[i] += klass
                    valence[j] += klass
                    bonds.append((i, j, klass))
                    connected = True
            if i > 0 and not connected:
                atoms.pop()
                break
        mol = graph_to_mol(np.asarray(atoms), bonds, m.vocab) if atoms else None
        return Chem.MolToSmiles(mol) if mol is not None else None
