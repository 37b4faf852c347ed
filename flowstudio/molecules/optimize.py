"""Property directions in GraphAF's latent space, walks along them, and constrained optimization.

GraphAF's latent (:mod:`flowstudio.molecules.latent`) is exact: encoding is the flow's
bijection, so a molecule has one latent and decoding it gives the molecule back. Flattened,
a latent is a vector ``z`` of ``D = (max_atoms + 1)·K + max_atoms·W·4`` numbers.

**A property direction.** As MoFlow (Zang & Wang 2020, §4.4) does with its latent space, a
linear model ``y ≈ wᵀz + b`` of a property is fitted on encoded molecules. With fewer
molecules than dimensions it is ridge regression, solved in its dual form
``w = Zᵀ(ZZᵀ + λI)⁻¹(y - ȳ)`` (Z centred), with ``λ`` a fraction of ``tr(ZZᵀ)/n`` (so that it
follows the latents' scale) chosen on held-out molecules. The direction is ``d = w/‖w‖``
(towards higher values).

**A walk** decodes ``z₀ + α·d`` at growing distances ``α``; for a linear model this is
gradient ascent (``∇(wᵀz) = w``), MoFlow's optimization step.

**Constrained optimization** (the task of Jin et al. 2018, JT-VAE §3.3, reported by GraphAF,
Shi et al. 2020 §4.4): improve a property while keeping the Tanimoto similarity of Morgan
fingerprints to the start molecule at least ``δ``. Candidates are the walk's points and
points scattered around them (``z₀ + α·d + σ·ε``, ε ~ N(0, I)), all decoded in one batch
with the valency check; the result is the best candidate that is valid, differs from the
start, improves the property and meets the similarity bound, or none. Success rate and mean
improvement over a set of starts are the literature's report.

**Properties**: ``qed``, ``logp`` (Crippen), ``sa`` (lower is better), ``mw`` and ``plogp``,
penalized logP (You et al. 2018; Jin et al. 2018): ``logP - SA - cycles``, where ``cycles`` is
the size of the largest ring beyond 6 atoms (``max(0, largest ring - 6)``, as JT-VAE's and
GraphAF's code compute it). JT-VAE's code also standardizes each term with ZINC-250k
statistics; FlowStudio reports the unstandardized sum, so absolute values differ from theirs.
Similarities use the MOSES fingerprints of :mod:`flowstudio.molecules.similarity` (Morgan
radius 2, 1,024 bits); JT-VAE uses unfolded Morgan radius-2 fingerprints.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from rdkit import Chem

from flowstudio.errors import BadInputError
from flowstudio.molecules.chem import canonical_smiles
from flowstudio.molecules.generate import decode
from flowstudio.molecules.generated import Generated
from flowstudio.molecules.graph import fitting_order, mol_to_graph
from flowstudio.molecules.graphaf import GraphAF
from flowstudio.molecules.latent import Latents, encode
from flowstudio.molecules.properties import PROPERTY_FUNCTIONS
from flowstudio.molecules.similarity import morgan_fingerprints, tanimoto_matrix

RIDGE = 0.1
"""Ridge strength as a fraction of the mean squared latent norm (``tr(ZZᵀ)/n``), when no
molecules are held out to choose it."""
RIDGE_GRID = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
"""Ridge strengths tried against the held-out molecules."""
ENCODE_BATCH = 256


def penalized_logp(mol: Chem.Mol) -> float:
    """logP - SA - max(0, largest ring size - 6) (see the module docstring)."""
    rings = [len(r) for r in mol.GetRingInfo().AtomRings()]
    cycles = max(0, max(rings, default=0) - 6)
    return float(PROPERTY_FUNCTIONS["logP"](mol)) - float(PROPERTY_FUNCTIONS["SA"](mol)) - cycles


@dataclass(frozen=True)
class Property:
    """A property to optimize: its name, what computes it, and whether higher is better."""

    name: str
    label: str
    compute: Callable[[Chem.Mol], float]
    higher_is_better: bool = True

    def score(self, mol: Chem.Mol) -> float:
        """The property, signed so that higher is always better."""
        value = float(self.compute(mol))
        return value if self.higher_is_better else -value


PROPERTIES: dict[str, Property] = {
    "qed": Property("qed", "QED", PROPERTY_FUNCTIONS["QED"]),
    "plogp": Property("plogp", "penalized logP", penalized_logp),
    "logp": Property("logp", "logP", PROPERTY_FUNCTIONS["logP"]),
    "sa": Property("sa", "SA (lower is better)", PROPERTY_FUNCTIONS["SA"], higher_is_better=False),
    "mw": Property("mw", "molecular weight", PROPERTY_FUNCTIONS["weight"]),
}


def get_property(name: str) -> Property:
    """The property called ``name`` (one of :data:`PROPERTIES`)."""
    try:
        return PROPERTIES[name.lower()]
    except KeyError:
        raise BadInputError(f"unknown property {name!r}; choose one of {', '.join(PROPERTIES)}") from None


def flatten(latents: Latents) -> torch.Tensor:
    """(B, D) vectors of a batch of latents."""
    return torch.cat([latents.nodes.flatten(1), latents.edges.flatten(1)], dim=1)


def unflatten(model: GraphAF, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Node and edge latents of (B, D) vectors, for :func:`~flowstudio.molecules.generate.decode`."""
    vocab = model.vocab
    node_shape = (vocab.max_atoms + 1, model.node_latent_dim)
    split = node_shape[0] * node_shape[1]
    nodes = z[:, :split].reshape(-1, *node_shape)
    edges = z[:, split:].reshape(-1, vocab.max_atoms, vocab.edge_window, 4)
    return nodes, edges


def encodable(model: GraphAF, mols: Sequence[Chem.Mol | None]) -> tuple[list[Chem.Mol], list[str]]:
    """The molecules the model can encode (its atom types, at most its size, a BFS ordering
    within its edge window), and one reason for each of the others."""
    vocab = model.vocab
    kept, reasons = [], []
    for mol in mols:
        if mol is None:
            reasons.append("not a valid molecule")
            continue
        try:
            graph = mol_to_graph(mol, vocab)
        except BadInputError as exc:
            reasons.append(f"{canonical_smiles(mol)}: {exc}")
            continue
        name = canonical_smiles(mol)
        if graph.num_atoms > vocab.max_atoms:
            reasons.append(f"{name}: {graph.num_atoms} atoms, the model at most {vocab.max_atoms}")
        elif fitting_order(graph, vocab.edge_window, None) is None:
            reasons.append(f"{name}: no atom ordering fits the edge window {vocab.edge_window}")
        else:
            kept.append(mol)
    return kept, reasons


def encode_vectors(model: GraphAF, mols: Sequence[Chem.Mol], seed: int = 0) -> torch.Tensor:
    """(N, D) flattened latents of molecules (each with its seeded random BFS ordering)."""
    parts = [
        flatten(encode(model, list(mols[i : i + ENCODE_BATCH]), seed=seed + i))
        for i in range(0, len(mols), ENCODE_BATCH)
    ]
    return torch.cat(parts)


@dataclass(frozen=True)
class Direction:
    """A fitted property direction: the unit vector ``d`` (D,), the linear model ``wᵀz + b``
    in the property's own unit, and its fit (R² on the molecules it was fitted on and, when
    some were held out, on those)."""

    prop: str
    unit: torch.Tensor
    weights: torch.Tensor
    bias: float
    r2_fit: float
    r2_held_out: float | None
    n_molecules: int
    ridge: float = RIDGE

    def predict(self, z: torch.Tensor) -> torch.Tensor:
        return z @ self.weights + self.bias


def _r2(pred: torch.Tensor, y: torch.Tensor) -> float:
    residual = float(((pred - y) ** 2).sum())
    total = float(((y - y.mean()) ** 2).sum())
    return 1.0 - residual / total if total > 0 else float("nan")


def fit_direction(
    model: GraphAF,
    mols: Sequence[Chem.Mol],
    prop: str,
    ridge: float | None = None,
    held_out: float = 0.2,
    seed: int = 0,
) -> Direction:
    """Fit the ridge model of property ``prop`` on the encoded ``mols`` and return the
    direction of steepest increase of the property as defined (towards lower SA for ``sa``,
    whose score is negated). A share ``held_out`` of the molecules is kept aside; without a
    given ``ridge`` the strength of :data:`RIDGE_GRID` with the best R² on it is chosen (so
    the held-out R² reported is the selected one's, slightly optimistic)."""
    spec = get_property(prop)
    mols = [m for m in mols if m is not None]
    if len(mols) < 4:
        raise BadInputError(f"fitting a property direction needs at least 4 molecules, got {len(mols)}")
    if ridge is not None and not (math.isfinite(ridge) and ridge > 0):
        raise BadInputError(f"the ridge strength must be > 0, got {ridge}")
    z = encode_vectors(model, mols, seed=seed).double()
    y = torch.tensor([spec.score(m) for m in mols], dtype=torch.float64, device=z.device)
    order = torch.from_numpy(np.random.default_rng(seed).permutation(len(mols))).to(z.device)
    n_test = round(held_out * len(mols)) if len(mols) >= 10 else 0
    test, train = order[:n_test], order[n_test:]
    zt, yt = z[train], y[train]
    z_mean, y_mean = zt.mean(0), yt.mean()
    zc = zt - z_mean
    gram = zc @ zc.T
    scale = float(torch.trace(gram)) / len(train)  # the latents' mean squared norm
    eigenvalues, eigenvectors = torch.linalg.eigh(gram)
    projected = eigenvectors.T @ (yt - y_mean)

    def solve(strength: float) -> torch.Tensor:
        return zc.T @ (eigenvectors @ (projected / (eigenvalues.clamp_min(0) + strength * scale)))

    def held_out_r2(w: torch.Tensor) -> float | None:
        return _r2((z[test] - z_mean) @ w + y_mean, y[test]) if n_test >= 2 else None

    grid = (ridge,) if ridge is not None else (RIDGE_GRID if n_test >= 2 else (RIDGE,))
    fits = [(strength, solve(strength)) for strength in grid]
    strength, w = max(fits, key=lambda f: held_out_r2(f[1]) or -math.inf) if len(fits) > 1 else fits[0]
    bias = float(y_mean - z_mean @ w)
    norm = float(w.norm())
    if norm == 0:
        raise BadInputError(f"the property {prop!r} is constant over the given molecules: no direction")
    r2_fit = _r2(zt @ w + bias, yt)
    unit, weights = (w / norm).float(), w.float()
    return Direction(spec.name, unit, weights, bias, r2_fit, held_out_r2(w), len(mols), strength)


def walk(
    model: GraphAF, mol: Chem.Mol, direction: Direction, distances: Sequence[float], seed: int = 0
) -> Generated:
    """Molecules decoded at ``z₀ + α·d`` for each ``α`` in ``distances`` (0: the start
    itself), with the valency check."""
    z0 = encode_vectors(model, [mol], seed=seed)
    alphas = torch.tensor([float(a) for a in distances], dtype=z0.dtype, device=z0.device)
    if not torch.isfinite(alphas).all() or len(alphas) == 0:
        raise BadInputError("the walk needs finite distances")
    z = z0 + alphas[:, None] * direction.unit.to(z0.device)[None]
    return decode(model, *unflatten(model, z), check=True)


@dataclass(frozen=True)
class Optimized:
    """The outcome for one start molecule: its SMILES and property, and the best candidate
    that met the similarity bound (``None`` fields when none did), with how many candidates
    were decoded and how many of them were valid."""

    start: str
    start_value: float
    smiles: str | None
    value: float | None
    similarity: float | None
    candidates: int
    valid: int

    @property
    def success(self) -> bool:
        return self.smiles is not None

    @property
    def improvement(self) -> float:
        """In the property's score (higher is better; 0 without success)."""
        return 0.0 if self.value is None else self.value - self.start_value


@dataclass(frozen=True)
class Search:
    """Where candidates are decoded: ``steps`` distances along the direction up to
    ``max_distance``, each with ``scatter`` extra points at noise scale ``sigma``."""

    steps: int = 12
    max_distance: float = 24.0
    scatter: int = 4
    sigma: float = 0.5

    def validate(self) -> None:
        if not 1 <= self.steps <= 200 or not 0 <= self.scatter <= 200:
            raise BadInputError(f"steps must be 1 to 200 and scatter 0 to 200: {self.steps}, {self.scatter}")
        for name, value in (("max_distance", self.max_distance), ("sigma", self.sigma)):
            if not (math.isfinite(value) and value >= 0):
                raise BadInputError(f"{name} must be a finite number >= 0, got {value}")


def _candidate_latents(z0: torch.Tensor, unit: torch.Tensor, search: Search, generator: torch.Generator):
    alphas = torch.linspace(0, search.max_distance, search.steps + 1, device=z0.device)[1:]
    along = z0 + alphas[:, None] * unit[None]
    if search.scatter == 0:
        return along
    noise = torch.randn(
        (search.steps, search.scatter, z0.shape[-1]), generator=generator, device=z0.device, dtype=z0.dtype
    )
    return torch.cat([along, (along[:, None] + search.sigma * noise).flatten(0, 1)])


def candidates(
    model: GraphAF, start: Chem.Mol, direction: Direction, search: Search, seed: int = 0
) -> Generated:
    """The decoded candidates of one start (with the valency check): first the ``steps``
    points of the walk, then ``scatter`` points around each of them."""
    search.validate()
    z0 = encode_vectors(model, [start], seed=seed)
    generator = torch.Generator(device="cpu").manual_seed(seed)
    z = _candidate_latents(z0.cpu(), direction.unit.cpu(), search, generator).to(z0.device)
    return decode(model, *unflatten(model, z), check=True)


def optimize(
    model: GraphAF,
    starts: Sequence[Chem.Mol],
    direction: Direction,
    similarity: float,
    search: Search | None = None,
    seed: int = 0,
) -> list[Optimized]:
    """For each start molecule, the best decoded candidate that improves the property and
    keeps Tanimoto similarity ≥ ``similarity`` to the start (0: unconstrained, the best of
    the candidates whatever their similarity)."""
    search = search or Search()
    search.validate()
    check_similarity(similarity)
    spec = get_property(direction.prop)
    return [
        best_candidate(spec, start, candidates(model, start, direction, search, seed + k), similarity)
        for k, start in enumerate(starts)
    ]


def check_similarity(similarity: float) -> float:
    if not (math.isfinite(similarity) and 0.0 <= similarity <= 1.0):
        raise BadInputError(f"the similarity threshold must be within [0, 1], got {similarity}")
    return similarity


def best_candidate(
    spec: Property, start: Chem.Mol, decoded: Generated | Sequence[Chem.Mol | None], threshold: float
) -> Optimized:
    """The best of ``decoded`` (molecules, ``None`` where invalid) that differs from ``start``,
    improves ``spec`` and has Tanimoto similarity ≥ ``threshold`` to it (see :class:`Optimized`)."""
    mols = decoded.mols if isinstance(decoded, Generated) else list(decoded)
    start_smiles = canonical_smiles(start)
    start_value = spec.score(start)
    seen: dict[str, Chem.Mol] = {}
    for mol in mols:
        if mol is not None:
            seen.setdefault(canonical_smiles(mol), mol)
    seen.pop(start_smiles, None)
    best: tuple[float, str, float] | None = None
    if seen:
        smiles = list(seen)
        fps = morgan_fingerprints([seen[s] for s in smiles])
        sims = tanimoto_matrix(morgan_fingerprints([start]), fps)[0]
        for text, sim in zip(smiles, sims, strict=True):
            if sim < threshold:
                continue
            value = spec.score(seen[text])
            if value > start_value and (best is None or value > best[0]):
                best = (value, text, float(sim))
    valid = sum(m is not None for m in mols)
    if best is None:
        return Optimized(start_smiles, start_value, None, None, None, len(mols), valid)
    return Optimized(start_smiles, start_value, best[1], best[0], best[2], len(mols), valid)


def summarize(results: Sequence[Optimized]) -> dict[str, float]:
    """The literature's report over starts: success rate, mean improvement of the successes
    (and over every start, failures counting 0), mean similarity of the successes."""
    wins = [r for r in results if r.success]
    n = max(1, len(results))
    return {
        "success": len(wins) / n,
        "improvement": float(np.mean([r.improvement for r in wins])) if wins else float("nan"),
        "improvement_all": float(sum(r.improvement for r in wins)) / n,
        "similarity": float(np.mean([r.similarity for r in wins])) if wins else float("nan"),
        "starts": float(len(results)),
    }
