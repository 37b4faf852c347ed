"""The point-cloud models' presets: the values each preset gives every model family.

Presets:

* ``quick`` trains on two CPU cores for ten minutes (its time budget; ``--minutes``
  changes it): small networks, a fixed-step Runge-Kutta solver over a fixed T = 1
  (learning T with a fixed step count lets the flow exploit the coarse solver). PointFlow
  has a 16-d shape latent, a 64-128-256 encoder, a 64-64 latent CNF with the exact trace
  and RNODE, a 64-64-64 point CNF, 32 shapes a step at a learning rate of 5e-3, and spends
  the last 30 of its ten minutes fitting the latent prior alone to the final encoder
  (``prior_refine_s``; 1-NNA-CD 0.84 -> 0.76 in session 4's run). It trains the point
  CNF by flow matching, on 128 points a shape, and samples it with RK4 in 3 steps
  (``point_steps``; the latent CNF, trained by likelihood, keeps RK4 in 2): on the 100
  validation chairs, the same weights drawn with 3 steps instead of 2 scored 1-NNA-CD
  0.763 / 0.765 against 0.800 / 0.787 (two training seeds, three draws each) at COV-CD
  0.493 / 0.477 against 0.487 / 0.473 (session 10). Points drawn in 2 steps lie 0.008 from
  the exact (dopri5) solve's on average, in 3 steps 0.0014, in 4 steps 0.0005 (the
  chairs' mean |coordinate| is 0.28); 4 steps and dopri5 scored alike, 0.762 / 0.772 and
  0.493 / 0.463. The rule, fixed before looking, asked for a mean 1-NNA-CD gain of 0.02 at
  no less mean COV-CD; 3 steps met it, 4 steps missed it by 0.002 COV-CD. The 8-minute user
  runs with it (seeds 0 and 1, test chairs) scored 1-NNA-CD 0.750 / 0.750 and COV-CD 0.47 /
  0.48, sampling 100 x 2,048 points in 1.3-2.8 s. On held-out
  ModelNet chairs this beat wider point networks, more points, a heavier latent term and
  logit-normal times at equal wall time; weight averaging (0.999 in session 20: thickness
  0.1595 against 0.1583), OT pairing, a cosine learning-rate schedule and one path time per
  point did not help; reflow (``reflow_s``) is left off,
  since RK4 in a few steps already samples within the budget. Its latent term is light
  (``latent_weight`` 0.001: sharper posteriors, so the decoder is told more about each
  shape; better COV-CD than 0.01 in four training seeds out of four) and it draws shape
  latents at 1.25 times the sampling temperature (``latent_temperature``), chosen on 100
  chairs held out from a tuning run (COV-CD 0.45 at 1, 0.49 at 1.25 and 1.5, 1-NNA-CD 0.82
  to 0.80, MMD-CD lowest at 1.25 of the two). Measured the same way at 8 minutes and not
  adopted (session 9): a 128-wide point CNF (fewer steps, less coverage), a non-linear
  (FiLM) embedding of the time and latent in the point CNF (much worse), the encoder seeing
  64 points (as good, one seed), two torchrun processes instead of two threads (0.75x the
  steps), and a point temperature below 1 (``point_temperature``: sharper shapes, no more
  coverage in both seeds); and in session 10 fitting the latent CNF every 4th step
  (``prior_every``: 1.3x the steps, coverage 0.490 / 0.437 against 0.487 / 0.473); and in
  session 11 a 128-wide point CNF with ``prior_every=4`` (with or without
  ``encoder_points=64``) and path times nearer the data (``time_distribution=data_end``):
  none covered more in both seeds or drew thinner surfaces (sampled points' neighbourhoods
  stay about twice as thick as real chairs'); nor, in session 13, did random Fourier
  features of the point CNF's input or P = 0.9 (which pulls in 13-15% of the stray
  points at equal coverage: a choice left to users); nor, in session 14, a point CNF that
  predicts the data point (worse on every number) or its 3 steps crowded toward the data
  (``point_step_power`` 2: thickness 0.1588 against 0.1583; dopri5 draws the quick field
  as RK4 in 3 even steps does). The
  comparisons with the likelihood recipe
  (8 and 30 minutes) are in ``benchmarks/results/pointflow-matching.md``. ``--set objective=likelihood`` gives
  session 4's likelihood recipe at the same sizes: Hutchinson's trace in the point CNF,
  RNODE, validation every 100 steps. Validation scores every fixed-step CNF with the
  accurate dopri5 solve, so a model that cheats its coarse solver is seen.
* ``full`` uses PointFlow's sizes (Yang et al. 2019, supplement): a 128-d shape latent, a
  512-512-512 point CNF and a 256-256 latent CNF, batch 128 of 2048 points, learning rate
  2e-3, a minute of prior refinement at the end; meant for a GPU. Its point CNF learns by
  flow matching (one block, no batch norm; a training step at 16 x 2048 points costs 68
  times less than the likelihood step on a CPU) and samples with RK4 in 8 even steps (a
  sharper field than quick's may want ``point_step_power`` 2: not measurable without a
  GPU; see the results, section 16); the
  latent CNF by likelihood with RNODE. ``--set objective=likelihood`` is the paper's
  recipe plus RNODE: dopri5 at atol = rtol = 1e-5, moving batch norm, adjoint gradients,
  the exact trace in 3-D, kinetic and Jacobian weights 0.01 (Finlay et al. 2020).
* The single-shape ``cnf`` learns by likelihood in both presets (``--set
  objective=flow_matching`` trains it by flow matching, each point its own path). The
  quick flow-matching recipe samples with RK4 in 8 steps crowded toward the data
  (``point_step_power`` 2): a flow-matching field fitted to one chair for 3 minutes is
  sharp, and 8 even steps drew three chairs thicker than the exact solve does (thickness
  0.098 / 0.079 / 0.129 against dopri5's 0.058 / 0.084 / 0.067), 8 steps at power 2 as
  dopri5 does within 0.002 (0.057 / 0.084 / 0.068; 4 steps at power 2 fell 0.025 short
  on the third chair; session 14). Flow matching trains without a solve, so the steps only
  set how it samples. The likelihood recipe keeps 4 even steps: it is trained through them,
  and power 2 drew its chair thicker (0.089 against 0.077).
"""

from __future__ import annotations

from typing import Any

PRESET_VALUES: dict[str, dict[str, dict[str, Any]]] = {
    "quick": {
        "pointflow": {
            "latent_dim": 16,
            "encoder_hidden": "64-128-256",
            "prior_hidden": "64-64",
            "prior_trace": "exact",
            "point_hidden": "64-64-64",
            "solver": "rk4",
            "steps": 2,
            "batch_size": 32,
            "kinetic_weight": 0.01,
            "jacobian_weight": 0.01,
            "lr": 5e-3,
            "end_time": 1.0,
            "train_end_time": False,
            "val_shapes": 8,
            "snapshot_points": 1024,
            "minutes": 9.5,
            "prior_refine_s": 30.0,
            "latent_weight": 0.001,
            "latent_temperature": 1.25,
        },
        "cnf": {
            "point_hidden": "64-64-64",
            "solver": "rk4",
            "steps": 4,
            "batch_size": 1,
            "train_points": 1024,
            "kinetic_weight": 0.01,
            "jacobian_weight": 0.01,
            "lr": 5e-3,
            "end_time": 1.0,
            "train_end_time": False,
            "val_shapes": 1,
            "snapshot_points": 2048,
            "normalization": "shape",
            "minutes": 10.0,
        },
        "discrete": {
            "batch_size": 1,
            "train_points": 2048,
            "lr": 1e-3,
            "val_shapes": 1,
            "snapshot_points": 2048,
            "normalization": "shape",
        },
    },
    "full": {
        "pointflow": {
            "kinetic_weight": 0.01,
            "jacobian_weight": 0.01,
            "prior_refine_s": 60.0,
        },
        "cnf": {
            "point_hidden": "512-512-512",
            "batch_size": 1,
            "train_points": 2048,
            "val_shapes": 1,
            "normalization": "shape",
            "adjoint": True,
            "kinetic_weight": 0.01,
            "jacobian_weight": 0.01,
        },
        "discrete": {
            "batch_size": 1,
            "train_points": 2048,
            "flow_layers": 16,
            "flow_hidden": 256,
            "val_shapes": 1,
            "normalization": "shape",
            "lr": 1e-3,
        },
    },
}


POINTFLOW_RECIPES: dict[str, dict[str, dict[str, Any]]] = {
    "quick": {
        "flow_matching": {
            "objective": "flow_matching",
            "train_points": 128,
            "validate_every": 500,
            "point_steps": 3,
        },
        "likelihood": {
            "objective": "likelihood",
            "trace": "hutchinson",
            "train_points": 128,
            "latent_temperature": 1.0,  # measured on flow-matching runs only
        },
    },
    "full": {
        "flow_matching": {
            "objective": "flow_matching",
            "solver": "rk4",
            "steps": 8,
            "train_end_time": False,
            "validate_every": 1000,
        },
        "likelihood": {
            "objective": "likelihood",
            "adjoint": True,
            "batch_norm": True,
        },
    },
}
"""PointFlow's presets by objective: each preset's values above, then these. The first
objective of each is the preset's own; asking for the other (``--set objective=...``)
gives that objective's recipe at the same sizes."""

CNF_RECIPES: dict[str, dict[str, dict[str, Any]]] = {
    "quick": {"likelihood": {}, "flow_matching": {"steps": 8, "point_step_power": 2.0}},
    "full": {"likelihood": {}, "flow_matching": {}},
}
"""The single-shape ``cnf``'s presets by objective, in the same way (likelihood first)."""

RECIPES = {"pointflow": POINTFLOW_RECIPES, "cnf": CNF_RECIPES}
"""The models whose presets depend on the objective asked for."""
