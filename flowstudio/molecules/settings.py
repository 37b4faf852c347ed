"""GraphAF's hyperparameter schema and presets.

:class:`MoleculeSettings` declares every setting of a molecule run (the engine's options come
from :class:`flowstudio.params.EngineSettings`), each with its help, range and group, so that
the window builds its form from it and ``flowstudio mols train --set key=value`` checks
values against it; :func:`resolve` merges a preset with the user's overrides.

Presets:

* ``quick``: trains in a few minutes on two CPU cores on a 20k-molecule subset: an R-GCN
  of 3 x 64, conditioners of 4 x 64 hidden units, batches of 64, Adam at 2e-3 (constant:
  a cosine decay lowered the held-out NLL but not FCD or Filters). It samples atom steps at
  temperature 0.9 and bond steps at 0.6 (``bond_temperature`` 0.667), chosen on 6,000 MOSES
  molecules held out from both training and the test reference, over two training and two
  sampling seeds: FCD 6.7 and Filters 0.939 after 1,800 steps, where atoms and bonds both at
  0.6 gave FCD 10.4-11.8 and at 0.75 7.6-7.7 (``benchmarks/results/graphaf.md``, section 10).
  Warm atom steps draw S, F and Cl as often as the data has them; cool bond steps keep the
  bonds out of the patterns Filters rejects. Longer runs of it lower FCD and raise Filters
  but leave the rings as they are (four times the steps, section 18).
* ``full``: the paper's sizes (Shi et al. 2020, §4.1: R-GCN 3 x 128, 12 flow layers,
  128-wide conditioners, Adam at 1e-3) on every molecule of the data file (MOSES's 1.6M
  training molecules: reading them takes minutes before training starts) for 30 minutes;
  batches of 128 instead of 64 so that a GPU is kept busy. Meant for ``--device cuda``;
  it has not been run (no GPU was lent to the sessions that built it). Its sizes alone, at
  the quick preset's steps on a CPU, lowered FCD and raised Filters as more steps do, and
  left the rings as they are (section 18).

Both presets switch on FlowStudio's additions to the paper's model (see
:mod:`flowstudio.molecules.graphaf`, ring features included; atom and bond steps are
classifiers with exact latents, :mod:`flowstudio.molecules.categorical_step`, which at equal
steps lowered FCD from 9.5-10.3 to 7.6-7.7 at the same temperature) and end with three rounds of
the END step's size calibration, each on 2,000 of the model's own samples
(:mod:`flowstudio.molecules.calibration`); the checkpoints carry its offsets. Samples are
drawn with the valency check and the ring check (``ring_sizes``,
:mod:`flowstudio.molecules.chemistry_check`), and a molecule cut at the size cap is drawn
again (``redraw_cut``: on 6,000 validation molecules Filters 0.933 -> 0.944 and FCD 5.3 ->
5.0 for the two 8-minute quick models of session 9, section 11 of the results). Atom types
say whether the atom sits on a ring (``ring_types``), and a molecule whose types disagree
with its rings is drawn again: in two 8-minute user runs the molecules with an open-chain
C=C, C=N or N=N fell from 18% to 0.4% and FCD from 4.7 to 3.5 (section 16). A molecule
that a bondless new atom ended is drawn again too (``redraw_bondless``), which brings the
sizes to the data's (section 16.5), and so is one with a hydrogen on an atom above its
lowest valence (``redraw_hypervalent``: a λ4-sulfane ``[SH]`` in 0.6-0.7% of the demo
model's molecules, none in the data; section 21.2). Both keep a moving average of the weights
(``weight_average`` 0.99, about the last 100 steps), which validation, the checkpoints, the
END calibration and sampling use: in three 8-minute user runs of the quick preset FCD fell
from 3.37-3.73 to 2.86-2.92 with Filters, rings and sizes as good or better (section 20.2);
a run's last raw weights carry Adam's step noise, which the average smooths out.
Both end with the ring tilt (``ring_tilt_steps`` 400, :mod:`flowstudio.molecules.tilting`:
fine-tuning on the model's own molecules tilted toward the data's fused ring systems), and
their ring atom types also say whether the ring is aromatic (``aromatic_types``), adopted
together after three user runs against the presets without them (fresh seeds, 5,000 test
molecules, rule written before; section 23.3): fused ring systems of kinds the data has
1.54x, molecules with a kind of ring system the data lacks 14.3% -> 7.3%, partly unsaturated
rings 9.0% -> 0.03%, FCD and Filters unchanged within the rule's noise. The tilt alone had
missed its rule narrowly (1.295x where it asked 1.3x, section 21), and aromatic types alone
on unusual rings (section 23). The tilt's 400 steps come after the minutes budget: 75 s on
the 2-core machine of sessions 19-22, about 5 minutes on session 23's, three times slower.
The presets do not draw again the molecules with a kind of ring system no training molecule has
(``redraw_unseen_rings``): taking them away raised FCD by 0.14-0.30 on three quick models
(section 22); users can turn it on, at sampling time too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flowstudio.errors import BadInputError
from flowstudio.params import MOLECULE_TEMPERATURE as DEFAULT_TEMPERATURE
from flowstudio.params import Param, engine_params, params_of, setting
from flowstudio.params import resolve as resolve_values

PRESETS = ("quick", "full")


@dataclass(frozen=True)
class MoleculeSettings:
    """Every setting of a GraphAF run besides the engine's options, with its help and range
    (see :func:`flowstudio.params.setting`); the ``model`` group is
    :class:`flowstudio.molecules.graphaf.GraphAFConfig` by field name."""

    # -- data ----------------------------------------------------------------
    max_molecules: int = setting(
        20000,
        "Molecules read from the data file (the first N valid ones; 0: all).",
        minimum=0,
        group="data",
    )
    validation_fraction: float = setting(
        0.05,
        "Share of the molecules held out to score the model (mean negative log-likelihood) and keep the "
        "best checkpoint.",
        minimum=0.0,
        maximum=0.5,
        group="data",
    )
    max_validation: int = setting(
        500,
        "At most this many held-out molecules are scored.",
        minimum=1,
        maximum=100000,
        group="data",
    )
    # -- model ---------------------------------------------------------------
    hidden: int = setting(
        64,
        "Width of the R-GCN node embeddings (the paper: 128).",
        minimum=4,
        maximum=2048,
    )
    rgcn_layers: int = setting(
        3,
        "Relational graph convolutions over the partial graph (the paper: 3).",
        minimum=1,
        maximum=12,
    )
    flow_layers: int = setting(
        4,
        "Affine flow layers stacked for each node and edge step, each with its own conditioner network (the"
        " paper: 12).",
        minimum=1,
        maximum=48,
    )
    st_hidden: int = setting(
        64,
        "Width of each flow layer's conditioner network (the 'ST net').",
        minimum=4,
        maximum=2048,
    )
    dequantization: float = setting(
        0.5,
        "Scale c of the uniform noise added to one-hot atom and bond types, x + c*u with u in [0, 1) (below"
        " 1 keeps argmax decoding exact). The paper uses 0.9; 0.5 keeps the classes further apart, so fewer"
        " samples land in the wrong one.",
        minimum=0.05,
        maximum=0.99,
    )
    scale_bound: float = setting(
        2.0,
        "Bound on each flow layer's log-scale, s*tanh(a/s); limits how sharp a single layer can be, for "
        "stability.",
        minimum=0.1,
        maximum=10.0,
    )
    valence_features: bool = setting(
        True,
        "Tell each bond step how much valence both atoms have left (an embedding of the pair, FlowStudio's "
        "addition to the paper's R-GCN inputs): the model learns early which bonds would break a valence, "
        "so more molecules are valid without the check.",
    )
    full_covariance: bool = setting(
        True,
        "Rotate the classes of each atom and bond step with a learned rotation (one Givens rotation per "
        "pair of classes, its angles read from the step's conditioning) before the element-wise flow "
        "layers, so each step's Gaussian has a full covariance (FlowStudio's addition to the paper): it can"
        " say 'no bond or a single bond, nothing else', which an element-wise flow cannot, so fewer bonds "
        "break a valence.",
    )
    order_features: bool = setting(
        True,
        "Tell each bond step where it stands in the breadth-first order (FlowStudio's addition to the "
        "paper): whether atom j was already expanded, so can no longer bond, and whether the new atom has a"
        " bond yet. Fewer molecules end early on an atom without bonds.",
    )
    end_step: bool = setting(
        True,
        "Decide whether the molecule ends as its own step before the atom type, a logistic classifier with "
        "an exact probability (FlowStudio's addition). One Gaussian over the atom types and END together "
        "draws END less often than the data ends, so molecules grow to the size cap.",
    )
    size_feature: bool = setting(
        True,
        "Tell each atom step how many atoms the molecule already has (FlowStudio's addition): whether to "
        "end depends on it first of all.",
    )
    ring_features: bool = setting(
        True,
        "Tell each bond step the size of the ring the bond would close (the shortest path between its two "
        "atoms in the graph so far) and whether both atoms are already in rings (FlowStudio's addition): "
        "without it the model cannot see whether a bond closes a benzene ring or a macrocycle.",
    )
    fusing_feature: bool = setting(
        False,
        "Tell each bond step also whether the ring it would close touches a ring already there (an atom "
        "on a shortest path between its two atoms lies in a ring: the bond makes a fused, spiro or "
        "bridged system; FlowStudio's addition, with ring_features). In breadth-first order a fused ring "
        "mostly closes between two atoms in no ring yet, so the ring flags alone do not say it. Off in the "
        "presets: in 2,000-step screens fused ring systems rose 1.42x (in two seeds of four), but in "
        "8-minute user runs over five seeds nothing changed (fused 0.156 -> 0.150, FCD 3.52 -> 3.52).",
    )
    ring_types: bool = setting(
        True,
        "Split each atom type by whether the atom sits on a ring (C on a ring and C off rings are two "
        "types; FlowStudio's addition): the atom step then says, as it places an atom, that a ring will "
        "go through it, and the later steps see which begun rings are still open. Generation with the "
        "checks draws again a molecule whose types disagree with its rings (a ring begun and never "
        "closed); the share is reported. In the quick preset's 8-minute user runs: molecules with an "
        "open C=C, C=N or N=N 18% -> 0.4% (MOSES 2%), FCD 4.7 -> 3.5, Filters 94.7% -> 97.4%.",
    )
    aromatic_types: bool = setting(
        True,
        "With ring_types, split the ring atom types once more by whether the ring is aromatic (FlowStudio's "
        "addition; read from the training molecules before they are kekulized): the atom step says that "
        "an aromatic ring will go through the atom, and a molecule whose aromatic types did not end "
        "aromatic (a Kekule ring whose double bonds did not alternate), or the reverse, is drawn again "
        "with the ring types'. With the ring tilt, in three 8-minute quick runs: partly unsaturated rings "
        "9.0% -> 0.03%, molecules with a kind of ring system the data lacks 14.3% -> 7.3%, FCD and Filters "
        "unchanged (section 23.3). Alone it leaves fewer saturated rings.",
    )
    conjugation_features: bool = setting(
        True,
        "Tell each bond step the double bonds both atoms already have, how many atoms of the ring it would "
        "close have none, and whether both atoms are in an aromatic-like ring (FlowStudio's addition): "
        "whether a bond of a Kekule structure is single or double depends on them, and without them rings "
        "come out partly saturated.",
    )
    categorical_steps: bool = setting(
        True,
        "Draw each atom type and bond as a classifier's decision with an exact latent (Gumbel-max over "
        "Gaussian latents; FlowStudio's addition) instead of the paper's affine flow over a dequantized "
        "one-hot: a Gaussian puts too little mass on rare classes, so a flow model under-draws S, F, Cl and "
        "ring-closing bonds.",
    )
    classifier_layers: int = setting(
        1,
        "Hidden layers of each classifier step (with categorical_steps): 1 reads the decision linearly out "
        "of the conditioner's layer, each more adds a ReLU layer of the same width before it. 2 lowered FCD "
        "(6.7 to 5.8) and the held-out NLL at equal steps on MOSES, not the Filters failures, and costs 1.2x "
        "a step on a CPU.",
        minimum=1,
        maximum=4,
    )
    # -- training ------------------------------------------------------------
    batch_size: int = setting(
        64,
        "Molecules per optimization step; all their generation steps are trained in parallel (teacher "
        "forcing).",
        minimum=1,
        maximum=4096,
        group="training",
    )
    pack_worker: str = setting(
        "auto",
        "Pack the next batch (BFS orders, ring features, graph operators) in a worker process while the "
        "model trains on this one: the same batches in the same order, so results do not change. 'auto': "
        "where the machine has a core to spare for each training process, from the 20th step on; 'on'; "
        "'off'. If the worker cannot start or fails, training packs its batches itself.",
        choices=("auto", "on", "off"),
        group="training",
    )
    # -- sampling ------------------------------------------------------------
    temperature: float = setting(
        DEFAULT_TEMPERATURE,
        "Prior temperature of the live samples, of the END calibration and of 'mols sample' and the window "
        "unless they are given another: z ~ N(0, T^2 I). Lower gives safer, less diverse molecules (the "
        "paper samples at 0.6-0.75). With ring types, 1.0 draws ring sizes closer to the data's (five-"
        "membered 27% of the rings against 23% at 0.9; MOSES 34%) and a lower FCD, at about 0.7 fewer "
        "Filters points.",
        minimum=0.0,
        maximum=3.0,
        group="sampling",
    )
    bond_temperature: float = setting(
        1.0,
        "Bond steps are drawn at this times the temperature, atom steps at the temperature itself. Rare "
        "atom types (S, F, Cl) need a warm draw, while a cool one keeps bonds out of patterns the "
        "medicinal-chemistry filters reject; 1: one temperature for both. A cool one also takes fused ring "
        "systems away (0.16 a molecule at bonds 0.6 against 0.22 at 0.9; MOSES 0.37): `mols sample "
        "--bond-temperature` sets it at sampling time.",
        minimum=0.0,
        maximum=3.0,
        group="sampling",
    )
    size_calibration: int = setting(
        1000,
        "Calibrate the END step by size once training is done, in three rounds of twice this many of the "
        "model's own molecules, so that the samples end as often at each size as the training molecules "
        "do (needs end_step). Trained on data, a model never sees its own less finished molecules and "
        "ends them too rarely. It runs after a user's Stop too (uncalibrated, a run stopped after 400 "
        "quick steps draws 40% of its molecules at the size cap; calibrated, 0.8%). 0: off.",
        minimum=0,
        maximum=100000,
        group="sampling",
    )
    ring_tilt_steps: int = setting(
        400,
        "Once training is done, fine-tune this many steps on the model's own molecules, resampled so that "
        "its samples hold as many fused ring systems (indoles, quinolines, tetralins) as the training "
        "molecules (an exponential tilt), half of each batch, and on training molecules, the other half; "
        "before the END calibration and after the minutes budget (400 steps: 75 s to 5 minutes on 2 CPU "
        "cores). Trained on data alone, GraphAF draws about half the data's fused systems. With aromatic "
        "types, in three 8-minute quick runs: fused systems of kinds the data has 0.075 -> 0.116 a molecule "
        "(test molecules 0.34), FCD 4.17 -> 4.15, Filters 94.6% -> 94.2% (section 23.3). 0: off.",
        minimum=0,
        maximum=100000,
        group="training",
    )
    ring_sizes: str = setting(
        "auto",
        "The ring check: generation redraws a bond that would close a ring of another size, as the valency "
        "check redraws one that breaks a valence. 'auto': 3, 5, 6 and 7 plus every size at least 0.1% of "
        "the training molecules hold; a list such as '3,5-7'; 'any': no ring check.",
        group="sampling",
    )
    max_retries: int = setting(
        10,
        "Valency check: how often an invalid bond is redrawn before it becomes 'no bond'.",
        minimum=0,
        maximum=1000,
        group="sampling",
    )
    redraw_cut: bool = setting(
        True,
        "Draw a molecule again when it reaches the size cap and the model would go on (with the checks): "
        "GraphAF cuts it there, unfinished, often half a ring (FlowStudio's addition; the share drawn again "
        "is reported).",
        group="sampling",
    )
    redraw_bondless: bool = setting(
        True,
        "Draw a molecule again when a new atom gets no bond (with the checks): GraphAF ends the molecule "
        "there, short, while every training molecule ends by END (FlowStudio's addition; the share drawn "
        "again is reported). It brings the sizes to the data's: heavy-atom W1 0.48-0.70 -> 0.10-0.14.",
        group="sampling",
    )
    redraw_hypervalent: bool = setting(
        True,
        "Draw a molecule again when an atom above its lowest valence carries a hydrogen (with the checks): "
        "a sulfur left with three single bonds becomes a λ4-sulfane [SH], which RDKit accepts since "
        "sulfoxides need sulfur's valence 4, and no drug-like molecule has (about 1% of quick samples; "
        "none of 5,000 MOSES test molecules). FlowStudio's addition; the share drawn again is reported.",
        group="sampling",
    )
    redraw_unseen_rings: bool = setting(
        False,
        "Draw a molecule again when it has a ring system (rings joined by shared atoms, substituents "
        "left out) of a kind no training molecule has (with the checks): quick models draw 10-12% such "
        "molecules, often fused or bridged oddly, where 2.1% of MOSES test molecules have one. Off in the "
        "presets: on three quick models it raised FCD 2.86-2.92 -> 3.04-3.22 by taking away fused systems, "
        "odd ones and all. FlowStudio's addition; the share drawn again is reported.",
        group="sampling",
    )


HYPERPARAMETERS: list[Param] = [
    *params_of(MoleculeSettings),
    *engine_params(
        samples_of="Molecules", lr=1e-3, minutes=5.0, samples_every_s=10.0, samples_n=8, validate_every=200
    ),
]

BY_NAME: dict[str, Param] = {p.name: p for p in HYPERPARAMETERS}
ENGINE_OPTIONS = tuple(p.name for p in HYPERPARAMETERS if p.group == "engine")

PRESET_VALUES: dict[str, dict[str, Any]] = {
    "quick": {"lr": 2e-3, "temperature": 0.9, "bond_temperature": 0.667, "weight_average": 0.99},
    "full": {
        "max_molecules": 0,
        "hidden": 128,
        "rgcn_layers": 3,
        "flow_layers": 12,
        "st_hidden": 128,
        "batch_size": 128,
        "minutes": 30.0,
        "validate_every": 1000,
        "max_validation": 2000,
        "lr": 1e-3,
        "weight_average": 0.99,
    },
}
"""What each preset changes from the schema's defaults."""


def resolve(preset: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Preset values with ``overrides`` applied, each checked against its :class:`Param`."""
    if preset not in PRESETS:
        raise BadInputError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    values = resolve_values(HYPERPARAMETERS, PRESET_VALUES[preset], overrides)
    if values["ring_sizes"] != "auto":
        from flowstudio.molecules.chemistry_check import parse_ring_sizes  # torch: only when needed

        parse_ring_sizes(values["ring_sizes"])  # refuse a malformed list before any work
    return values
