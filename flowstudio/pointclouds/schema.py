"""The point-cloud models' hyperparameter schema: every setting of a run, with its help.

:class:`PointCloudSettings` declares each setting once, with its default, help, range,
group and the models that read it (:func:`flowstudio.params.setting`);
:mod:`flowstudio.pointclouds.settings` turns it into the window's form (a model's own
settings) and ``--set``'s checks, and applies the presets. Each model's config is made from
the settings it reads (:func:`flowstudio.params.config_from`: ``PointFlowConfig``,
``CNFSettings``, ``DiscreteFlowSettings``), so a setting reaches a model only if it says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from flowstudio.flows.matching import COUPLINGS, OBJECTIVES, TIME_DISTRIBUTIONS
from flowstudio.flows.odesolve import ADAPTIVE_SOLVERS, FIXED_STEP_SOLVERS
from flowstudio.flows.splines import SplineOptions
from flowstudio.params import setting
from flowstudio.pointclouds.models import DISCRETE_MODELS, SINGLE_SHAPE_MODELS

SOLVERS = ADAPTIVE_SOLVERS + FIXED_STEP_SOLVERS
POINTFLOW = ("pointflow",)
MODELS = (*POINTFLOW, *SINGLE_SHAPE_MODELS)
"""Every point-cloud model: PointFlow over a collection, the others over one shape."""
CNF_MODELS = ("pointflow", "cnf")
SPLINE_MODELS = ("nsf", "nsf_ar")
_SPLINE = SplineOptions()  # the spline flows' own defaults


@dataclass(frozen=True)
class PointCloudSettings:
    """Every setting of a point-cloud run besides the engine's options, with its help, range
    and the models that read it (``models``; none given: every model), see
    :func:`flowstudio.params.setting`."""

    # -- data ----------------------------------------------------------------
    normalization: str = setting(
        "dataset",
        "How points are centred and scaled before training: 'dataset' uses one centre and scale for the "
        "whole collection (PointFlow's default), 'shape' one per shape, 'none' trains on raw coordinates. "
        "Samples are always written back in the data's own frame.",
        choices=("dataset", "shape", "none"),
        group="data",
    )
    points_per_shape: int = setting(
        2048,
        "Points read from each shape (meshes are sampled on their surface with this many points).",
        minimum=16,
        maximum=100000,
        group="data",
    )
    test_fraction: float = setting(
        0.1,
        "Share held out for validation when the data has no test split: whole shapes for PointFlow, points "
        "of the shape for single-shape models.",
        minimum=0.01,
        maximum=0.5,
        group="data",
    )
    shape_index: int = setting(
        0,
        "Single-shape models: which shape of a collection to learn.",
        minimum=0,
        group="data",
        models=SINGLE_SHAPE_MODELS,
    )
    # -- model ---------------------------------------------------------------
    latent_dim: int = setting(
        128,
        "Size of the shape latent z (PointFlow).",
        minimum=1,
        maximum=1024,
        models=POINTFLOW,
    )
    encoder_hidden: str = setting(
        "128-128-256-512",
        "Widths of the PointNet encoder's shared per-point layers, dash-separated (PointFlow).",
        models=POINTFLOW,
    )
    prior_flow: bool = setting(
        True,
        "Learn the latent prior p(z) with a CNF; off, p(z) is N(0, I) (the paper's ablation).",
        models=POINTFLOW,
    )
    prior_hidden: str = setting(
        "256-256",
        "Widths of the latent CNF's network, dash-separated.",
        models=POINTFLOW,
    )
    latent_temperature: float = setting(
        1.0,
        "PointFlow: the latent prior's base noise is drawn at this times the sampling temperature. Above 1"
        " the shapes vary more than the prior says, which offsets a point decoder that draws every latent "
        "toward a typical shape (the quick preset's value was chosen on held-out chairs).",
        minimum=0.0,
        maximum=4.0,
        models=POINTFLOW,
    )
    point_temperature: float = setting(
        1.0,
        "PointFlow: each shape's point noise is drawn at this times the sampling temperature. Below 1 the "
        "points gather where the shape's density is high, with fewer stray points between its parts (the "
        "quick preset's value was chosen on held-out chairs).",
        minimum=0.0,
        maximum=4.0,
        models=POINTFLOW,
    )
    point_hidden: str = setting(
        "512-512-512",
        "Widths of the point CNF's network, dash-separated.",
        models=CNF_MODELS,
    )
    blocks: int = setting(
        1,
        "CNF blocks stacked in each flow (each its own ODE).",
        minimum=1,
        maximum=8,
        models=CNF_MODELS,
    )
    batch_norm: bool = setting(
        False,
        "Moving batch norm between CNF blocks (FFJORD/PointFlow).",
        models=CNF_MODELS,
    )
    flow_layers: int = setting(
        8,
        "Discrete flows: coupling / autoregressive layers, Glow steps or planar maps.",
        minimum=1,
        maximum=128,
        models=DISCRETE_MODELS,
    )
    flow_hidden: int = setting(
        64,
        "Discrete flows: width of the conditioner networks.",
        minimum=2,
        maximum=2048,
        models=DISCRETE_MODELS,
    )
    bins: int = setting(
        _SPLINE.bins,
        "Spline flows (nsf, nsf_ar): bins K of each rational-quadratic spline; more bins bend each "
        "coordinate map more finely, at 3K - 1 conditioner outputs per coordinate.",
        minimum=1,
        maximum=256,
        models=SPLINE_MODELS,
    )
    tail_bound: float = setting(
        _SPLINE.tail_bound,
        "Spline flows (nsf, nsf_ar): B, the splines act on [-B, B] in the model's normalized frame and are "
        "the identity outside it (linear tails, Durkan et al. 2019).",
        minimum=0.1,
        maximum=100.0,
        models=SPLINE_MODELS,
    )
    # -- solver --------------------------------------------------------------
    solver: str = setting(
        "dopri5",
        f"ODE solver of the CNFs: adaptive ({', '.join(ADAPTIVE_SOLVERS)}) or fixed-step "
        f"({', '.join(FIXED_STEP_SOLVERS)}). Flow matching trains without a solver: there it "
        "is how the model samples.",
        choices=SOLVERS,
        group="solver",
        models=CNF_MODELS,
    )
    atol: float = setting(
        1e-05,
        "Absolute tolerance of adaptive solvers.",
        minimum=1e-10,
        maximum=1.0,
        group="solver",
        models=CNF_MODELS,
    )
    rtol: float = setting(
        1e-05,
        "Relative tolerance of adaptive solvers.",
        minimum=1e-10,
        maximum=1.0,
        group="solver",
        models=CNF_MODELS,
    )
    steps: int = setting(
        4,
        "Steps over [0, T] for fixed-step solvers (PointFlow's point CNF takes 'point_steps' instead when "
        "that is not 0).",
        minimum=1,
        maximum=1000,
        group="solver",
        models=CNF_MODELS,
    )
    point_steps: int = setting(
        0,
        "PointFlow: fixed steps of the point CNF's solver (0: 'steps', which the latent CNF keeps). With "
        "flow matching the point CNF is never solved in training, so this is how finely it samples.",
        minimum=0,
        maximum=1000,
        group="solver",
        models=POINTFLOW,
    )
    point_step_power: float = setting(
        1.0,
        "Where a fixed-step solver puts the point CNF's steps: at T (k/n)^power. 1 spaces them evenly; "
        "above 1 they crowd toward the data end, where a sharply trained field turns fastest (a "
        "flow-matching single-shape CNF drew its chair half as thick with RK4 in 8 steps at power 2).",
        minimum=1.0,
        maximum=8.0,
        group="solver",
        models=CNF_MODELS,
    )
    trace: str = setting(
        "exact",
        "Divergence of the point CNF: 'exact' (cheap in 3-D) or the Hutchinson estimator.",
        choices=("exact", "hutchinson"),
        group="solver",
        models=CNF_MODELS,
    )
    prior_trace: str = setting(
        "hutchinson",
        "Divergence of the latent CNF (exact costs one vector-Jacobian product per latent dimension).",
        choices=("exact", "hutchinson"),
        group="solver",
        models=POINTFLOW,
    )
    end_time: float = setting(
        0.5,
        "Integration time T of each CNF.",
        minimum=0.01,
        maximum=10.0,
        group="solver",
        models=CNF_MODELS,
    )
    train_end_time: bool = setting(
        True,
        "Learn T along with the weights (PointFlow, FFJORD).",
        group="solver",
        models=CNF_MODELS,
    )
    adjoint: bool = setting(
        False,
        "Backpropagate with the adjoint ODE: memory constant in the number of steps, at the cost of a "
        "second solve.",
        group="solver",
        models=CNF_MODELS,
    )
    # -- regularization ------------------------------------------------------
    kinetic_weight: float = setting(
        0.0,
        "RNODE: weight of the kinetic energy ∫||f||² dt (Finlay et al. 2020); straighter paths, fewer "
        "function evaluations.",
        minimum=0.0,
        maximum=10.0,
        group="regularization",
        models=CNF_MODELS,
    )
    jacobian_weight: float = setting(
        0.0,
        "RNODE: weight of the Jacobian Frobenius norm ∫||∂f/∂z||²_F dt.",
        minimum=0.0,
        maximum=10.0,
        group="regularization",
        models=CNF_MODELS,
    )
    # -- objective -----------------------------------------------------------
    objective: str = setting(
        "likelihood",
        "How the CNFs learn: 'likelihood' maximizes the (ELBO of the) log-likelihood through ODE solves, "
        "with RNODE; 'flow_matching' regresses the point CNF's velocity onto straight paths from the data "
        "to noise (one network evaluation a step, no solve; T stays fixed). Both give the same kind of "
        "model, with exact log-likelihoods.",
        choices=OBJECTIVES,
        group="objective",
        models=CNF_MODELS,
    )
    sigma_min: float = setting(
        0.0,
        "Flow matching: the path's noise level at the data end (Lipman et al. 2023); 0 is the rectified-"
        "flow path.",
        minimum=0.0,
        maximum=0.5,
        group="objective",
        models=CNF_MODELS,
    )
    time_distribution: str = setting(
        "uniform",
        "Flow matching: where along the path training looks: 'uniform', 'logit_normal' (the middle, Esser "
        "et al. 2024) or 'data_end' (s = u^2: half the draws in the quarter of the path nearest the data).",
        choices=TIME_DISTRIBUTIONS,
        group="objective",
        models=CNF_MODELS,
    )
    coupling: str = setting(
        "independent",
        "Flow matching: pair each point with its own noise ('independent') or pair a shape's points with "
        "their noise by an exact optimal-transport assignment ('ot', Tong et al. 2024): straighter paths, "
        "better few-step samples, a little CPU per step.",
        choices=COUPLINGS,
        group="objective",
        models=CNF_MODELS,
    )
    latent_weight: float = setting(
        0.01,
        "PointFlow with flow matching: weight of the ELBO's latent part (-log p(z) - H[q], per latent "
        "dimension) beside the matching loss.",
        minimum=0.0,
        maximum=100.0,
        group="objective",
        models=POINTFLOW,
    )
    encoder_points: int = setting(
        0,
        "PointFlow with flow matching: points of each training shape the encoder sees (a random subset; 0: "
        "all of train_points). The point CNF matches every point.",
        minimum=0,
        maximum=100000,
        group="objective",
        models=POINTFLOW,
    )
    prior_every: int = setting(
        1,
        "PointFlow with flow matching: the latent CNF's terms (log p(z) with its exact or estimated trace, "
        "and its RNODE penalties) are computed every this many steps, weighted by this number, so the "
        "gradient is the same on average; a third or more of a quick step is the latent CNF.",
        minimum=1,
        maximum=1000,
        group="objective",
        models=POINTFLOW,
    )
    prior_weight: float = setting(
        1.0,
        "Weight of log p(z) in PointFlow's ELBO.",
        minimum=0.0,
        maximum=100.0,
        group="objective",
        models=POINTFLOW,
    )
    entropy_weight: float = setting(
        1.0,
        "Weight of the entropy of q(z|X) in PointFlow's ELBO.",
        minimum=0.0,
        maximum=100.0,
        group="objective",
        models=POINTFLOW,
    )
    # -- training ------------------------------------------------------------
    batch_size: int = setting(
        128,
        "Shapes per step (PointFlow) or point clouds per step (single shape).",
        minimum=1,
        maximum=4096,
        group="training",
    )
    train_points: int = setting(
        2048,
        "Points per shape and step: a random subset of each shape.",
        minimum=8,
        maximum=100000,
        group="training",
    )
    val_shapes: int = setting(
        16,
        "PointFlow: held-out shapes scored at each validation (a single-shape model scores up to "
        "4,096 held-out points of its shape, whatever this says).",
        minimum=1,
        maximum=10000,
        group="training",
    )
    snapshot_points: int = setting(
        2048,
        "Points per cloud in the live samples.",
        minimum=16,
        maximum=100000,
        group="training",
    )
    prior_refine_s: float = setting(
        0.0,
        "PointFlow: seconds spent once the run's budget is spent (not when it is stopped) fitting the "
        "latent prior alone to the encoder's posteriors of every training shape, on the best weights. The "
        "prior lags behind the encoder in joint training, and it is what draws the samples.",
        minimum=0.0,
        maximum=3600.0,
        group="training",
        models=POINTFLOW,
    )
    reflow_s: float = setting(
        0.0,
        "PointFlow with flow matching: seconds of reflow once the run's budget is spent, before the prior "
        "refinement: the point CNF is refitted to straight paths between noise and the shapes it draws "
        "from that noise itself (rectified flow's second stage), so that one or two Euler steps sample "
        "nearly as well as RK4 in 2 steps. Its held-out likelihood may get a little worse.",
        minimum=0.0,
        maximum=3600.0,
        group="training",
        models=POINTFLOW,
    )
