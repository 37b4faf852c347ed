"""PointFlow: a generative model of shapes as distributions of points (Yang et al. 2019).

A shape X = {x_1..x_N} is a set of points drawn from a shape-specific density p(x | z).
Three parts, each a normalizing flow or an encoder:

* the encoder q(z | X), a PointNet that outputs a diagonal Gaussian over the shape latent
  (:class:`~flowstudio.pointclouds.encoder.PointNetEncoder`);
* the latent prior p(z), a CNF that maps z to w ~ N(0, I) (``prior``);
* the point decoder p(x | z), a CNF over R^3 conditioned on z that maps x to y ~ N(0, I)
  (``decoder``).

With ``objective="likelihood"`` training maximizes the evidence lower bound (PointFlow eq. 6),

    ELBO(X) = E_q [ sum_i log p(x_i | z) ] + E_q [ log p(z) ] + H[q(z | X)],

estimated with one reparametrized draw z ~ q(z | X). As in the paper the terms are reported
in nats per dimension: the reconstruction per point coordinate (N * 3), the prior per
latent dimension. Both CNFs can carry the RNODE penalties of Finlay et al. (2020, "How to
train your neural ODE"): the kinetic energy of the velocity field and the Frobenius norm of
its Jacobian, which keep the dynamics simple and the number of function evaluations low.

With ``objective="flow_matching"`` the reconstruction term is replaced by the conditional
flow-matching loss of the point CNF given z ~ q(z | X) (:mod:`flowstudio.flows.matching`):
one evaluation of the point network per step instead of an ODE solve with its
divergence. The encoder learns from that loss through z, and the latent part of the ELBO
stays as it is, -log p(z) - H[q(z | X)] per latent dimension with its weights, scaled by
``latent_weight`` against the matching loss: it keeps q close to the latent CNF prior,
which is trained by likelihood as in PointFlow (the latent CNF is small and its exact
trace is cheap, and its log p(z) is what ties the encoder to the prior). The model is the
same CNF model as with likelihood training, so its held-out ELBO (exact divergence) is
comparable between the two objectives.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from flowstudio.errors import BadInputError
from flowstudio.flows.cnf import make_cnf_flow
from flowstudio.flows.distributions import Distribution, StandardNormal
from flowstudio.flows.flow import Flow
from flowstudio.flows.matching import OBJECTIVES, MatchingSettings, only_cnf
from flowstudio.flows.odesolve import FIXED_STEP_SOLVERS
from flowstudio.params import config_from, constant, from_setting
from flowstudio.pointclouds.encoder import PointNetEncoder
from flowstudio.pointclouds.models import PointDensity, cnf_trajectory, regularization

MAX_WIDTH = 16384
"""The widest hidden layer accepted (a wider one would exhaust memory, not train)."""


def widths(text: str, name: str) -> tuple[int, ...]:
    """Parse dash-separated layer widths such as ``"512-512-512"`` (the setting ``name``)."""
    # Every dash-separated part must be a plain positive integer: "-8-8" or "8--8" (a
    # negative width) is refused, not read as "8-8".
    pieces = [p.strip() for p in str(text).split("-")]
    parts = tuple(int(p) for p in pieces) if all(p.isdigit() for p in pieces) else ()
    if not parts or any(p < 1 or p > MAX_WIDTH for p in parts):
        raise BadInputError(
            f"hyperparameter {name!r} must be dash-separated positive widths (at most {MAX_WIDTH}) "
            f"such as '64-64', got {text!r}"
        )
    return parts


@dataclass
class CNFSettings:
    """Options of one CNF (see :func:`flowstudio.flows.cnf.make_cnf_flow`); a plain field
    reads the setting of its name (:func:`cnf_settings`)."""

    hidden: tuple[int, ...] = (512, 512, 512)
    blocks: int = 1
    batch_norm: bool = False
    end_time: float = 0.5
    train_end_time: bool = True
    solver: str = "dopri5"
    atol: float = 1e-5
    rtol: float = 1e-5
    step_size: float | None = constant(None)
    steps: int | None = None
    step_power: float = from_setting(1.0, name="point_step_power")
    trace: str = "exact"
    adjoint: bool = False
    kinetic_weight: float = 0.0
    jacobian_weight: float = 0.0

    def cnf_options(self) -> dict[str, Any]:
        options = asdict(self)
        options["hidden"] = tuple(self.hidden)
        return options


@dataclass
class PointFlowConfig:
    """Sizes and weights of a :class:`PointFlow`. The paper's settings are the defaults; a
    plain field reads the setting of its name (:func:`pointflow_config`)."""

    latent_dim: int = 128
    encoder_hidden: tuple[int, ...] = from_setting((128, 128, 256, 512), convert=widths)
    encoder_batch_norm: bool = constant(True)
    use_prior_flow: bool = from_setting(True, name="prior_flow")
    # the two CNFs and the matching options: made by pointflow_config
    prior: CNFSettings = field(default_factory=lambda: CNFSettings(hidden=(256, 256), trace="hutchinson"))
    decoder: CNFSettings = field(default_factory=CNFSettings)
    prior_weight: float = 1.0
    entropy_weight: float = 1.0
    objective: str = "likelihood"
    matching: MatchingSettings = field(default_factory=MatchingSettings)
    latent_weight: float = 0.01
    encoder_points: int = 0
    prior_every: int = 1
    latent_temperature: float = 1.0
    point_temperature: float = 1.0


def cnf_settings(values: Mapping[str, Any], *, prior: bool = False) -> CNFSettings:
    """A CNF's options from the settings its model reads: a point CNF (PointFlow's decoder,
    the single-shape ``cnf``: ``point_hidden``, ``trace``; PointFlow's ``point_steps``), or
    PointFlow's latent CNF (``prior``: ``prior_hidden``, ``prior_trace``, one block without
    batch norm)."""
    hidden = "prior_hidden" if prior else "point_hidden"
    # PointFlow's point CNF may take its own number of steps (point_steps; 0: steps)
    steps = values["steps"] if prior else values.get("point_steps") or values["steps"]
    given: dict[str, Any] = {
        "hidden": widths(values[hidden], hidden),
        "trace": values["prior_trace" if prior else "trace"],
        # Flow matching fixes T: its paths are drawn over the CNF's [0, T].
        "train_end_time": values["train_end_time"] and values["objective"] == "likelihood",
        "steps": steps if values["solver"] in FIXED_STEP_SOLVERS else None,
    }
    if prior:
        given.update(blocks=1, batch_norm=False, step_power=1.0)
    return config_from(CNFSettings, values, **given)


def pointflow_config(values: Mapping[str, Any]) -> PointFlowConfig:
    """PointFlow's config from the settings it reads
    (:func:`flowstudio.pointclouds.settings.read_by`)."""
    return config_from(
        PointFlowConfig,
        values,
        prior=cnf_settings(values, prior=True),
        decoder=cnf_settings(values),
        matching=config_from(MatchingSettings, values),
    )


class PointFlow(PointDensity):
    """The PointFlow model: encoder, latent CNF prior and conditional point CNF."""

    def __init__(self, config: PointFlowConfig) -> None:
        super().__init__()
        if config.objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, got {config.objective!r}")
        self.config = config
        self.latent_dim = int(config.latent_dim)
        self.encoder = PointNetEncoder(
            self.latent_dim, config.encoder_hidden, batch_norm=config.encoder_batch_norm
        )
        # Without a prior flow, p(z) is the standard normal itself (the paper's ablation).
        self.prior: Distribution = (
            make_cnf_flow(self.latent_dim, 0, **config.prior.cnf_options())
            if config.use_prior_flow
            else StandardNormal(self.latent_dim)
        )
        self.decoder = make_cnf_flow(3, self.latent_dim, **config.decoder.cnf_options())
        if config.objective == "flow_matching":
            only_cnf(self.decoder)  # refuse stacked blocks or batch norm now, not at the first step

    @property
    def point_flow(self) -> nn.Module:
        return self.decoder

    @property
    def point_temperature(self) -> float:
        """P, the config's ``point_temperature``: point noise is drawn from N(0, (T P)^2 I).

        Below 1 this is reduced-temperature sampling (Kingma & Dhariwal 2018, Glow; Parmar
        et al. 2018): each shape's points gather where its density is high, so the stray
        points between parts thin out, at the cost of the density's tails. The quick
        preset's P was chosen on held-out chairs (:mod:`.presets`).
        """
        return float(self.config.point_temperature)

    # ---- the objective ---------------------------------------------------------------

    def loss_terms(self, points: Tensor, step: int = 0) -> dict[str, Tensor]:
        """The loss of the configured objective at training step ``step`` and its parts for
        display (see :meth:`elbo_terms` and :meth:`flow_matching_terms`)."""
        if self.config.objective == "flow_matching":
            return self.flow_matching_terms(points, step)
        return self.elbo_terms(points)

    def flow_matching_terms(self, points: Tensor, step: int = 0) -> dict[str, Tensor]:
        """Flow-matching terms for a (B, N, 3) batch at training step ``step``, each a 0-dim tensor.

        ``loss`` is the point CNF's matching loss given z ~ q(z | X) plus ``latent_weight``
        times the latent part of the negative ELBO per latent dimension, plus the latent
        CNF's RNODE penalties; ``matching`` is the matching loss, ``prior`` -log p(z) per
        latent dimension, ``entropy`` H[q(z | X)] in nats.

        With ``prior_every = k > 1`` the latent CNF's terms (log p(z) and its penalties) are
        computed at every k-th step only, times k: an unbiased estimate of the same
        gradient for the encoder, and k times fewer (same-direction) Adam updates of the
        latent CNF, which the final prior refinement fits to the encoder anyway
        (:mod:`.prior_refinement`). The latent CNF, solved with its exact trace and RNODE,
        is a third or more of a quick step on a CPU (``benchmarks/results/pointflow-matching.md``,
        section 12); the cheap entropy term stays in every step. ``prior`` and the penalties
        are reported on the steps that compute them.
        """
        cfg = self.config
        # The batch's points are a random subset of each shape, so their first
        # encoder_points are a smaller random subset: the encoder's cost, which dominates a
        # matching step, stays fixed while the point CNF learns from every point.
        mu, logvar = self.encoder(points[:, : cfg.encoder_points or None])
        z = self.encoder.reparametrize(mu, logvar)
        matching = cfg.matching.loss(only_cnf(self.decoder), points, z)
        entropy = self.encoder.entropy(logvar)
        latent = -cfg.entropy_weight * entropy.mean() / self.latent_dim
        terms = {"matching": matching.detach(), "entropy": entropy.mean().detach()}
        loss = matching
        every = int(cfg.prior_every)
        if step % every == 0:
            log_pz = self.latent_log_prob(z)
            latent = latent - every * cfg.prior_weight * log_pz.mean() / self.latent_dim
            penalty, reg = regularization(self.prior) if isinstance(self.prior, Flow) else (0.0, {})
            loss = loss + every * penalty
            terms.update(prior=-log_pz.mean().detach() / self.latent_dim, **reg)
        return {"loss": loss + cfg.latent_weight * latent, **terms}

    def elbo_terms(self, points: Tensor) -> dict[str, Tensor]:
        """One-sample ELBO terms for a (B, N, 3) batch, each a 0-dim tensor.

        ``loss`` is the negative ELBO in nats per point coordinate plus the RNODE penalties;
        ``recon`` (nats/dim) and ``nll`` (nats/point) are -log p(X | z) scaled, ``prior``
        is -log p(z) per latent dimension, ``entropy`` is H[q(z | X)] in nats.
        """
        N = points.shape[1]
        cfg = self.config
        log_px, log_pz, entropy = self._elbo_parts(points)
        elbo = log_px + cfg.prior_weight * log_pz + cfg.entropy_weight * entropy
        dims = float(N * 3)
        penalty, reg = regularization(self)
        return {
            "loss": -elbo.mean() / dims + penalty,
            "recon": -log_px.mean().detach() / dims,
            "nll": -log_px.mean().detach() / N,
            "prior": -log_pz.mean().detach() / self.latent_dim,
            "entropy": entropy.mean().detach(),
            **reg,
        }

    def _elbo_parts(self, points: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """log p(X | z), log p(z) and H[q(z | X)] per shape, z one draw from q(z | X)."""
        mu, logvar = self.encoder(points)
        z = self.encoder.reparametrize(mu, logvar)
        log_px = self.decoder.log_prob(points, context=z).sum(-1)
        return log_px, self.latent_log_prob(z), self.encoder.entropy(logvar)

    def negative_elbo(self, points: Tensor) -> Tensor:
        """-ELBO(X) per shape of a (B, N, 3) batch in nats (unweighted): an upper bound on
        -log p(X)."""
        log_px, log_pz, entropy = self._elbo_parts(points)
        return -(log_px + log_pz + entropy)

    def latent_log_prob(self, z: Tensor) -> Tensor:
        """log p(z) under the prior, shape (B,)."""
        return self.prior.log_prob(z)

    # ---- generation ---------------------------------------------------------------------

    @torch.no_grad()
    def encode(self, points: Tensor) -> Tensor:
        """The mean of q(z | X) for a (B, N, 3) batch: the shape's latent code, (B, Z)."""
        mu, _ = self.encoder(points)
        return mu

    @torch.no_grad()
    def posteriors(self, shapes: Tensor, points: int = 512, chunk: int = 64) -> tuple[Tensor, Tensor]:
        """Mean and standard deviation of q(z | X) for every shape of ``shapes`` (S, N, 3),
        each seen through at most ``points`` of its points, ``chunk`` shapes at a time, with
        the encoder in eval mode (its batch norm's running statistics) and put back after:
        what the final stages fit to (:mod:`.prior_refinement`, :mod:`.reflow`)."""
        was_training = self.encoder.training
        self.encoder.eval()
        try:
            parts = [self.encoder(shapes[k : k + chunk, :points]) for k in range(0, len(shapes), chunk)]
        finally:
            self.encoder.train(was_training)
        mu = torch.cat([m for m, _ in parts])
        return mu, torch.cat([logvar for _, logvar in parts]).mul(0.5).exp()

    @torch.no_grad()
    def sample_latent(self, k: int, temperature: float = 1.0) -> Tensor:
        """Draw k shape latents from the prior: w ~ N(0, (T L)^2 I) pushed through the prior
        CNF, with L the config's ``latent_temperature``.

        Why L > 1 can help: the point decoder is trained on z ~ q(z | X), whose noise mixes
        the shapes of neighbouring posteriors, so it draws each latent as something of an
        average of the shapes near it. A wider latent spread offsets that pull toward typical
        shapes, although the prior's spread already matches the training posteriors'. The
        quick preset's L was chosen on held-out chairs (:mod:`.presets`).
        """
        return self.prior.sample(k, temperature=temperature * self.config.latent_temperature)

    def _context(self, k: int, latent: Tensor | None, temperature: float) -> Tensor:
        if latent is None:
            return self.sample_latent(k, temperature)
        if latent.dim() == 1:
            latent = latent.unsqueeze(0)
        if latent.shape[-1] != self.latent_dim:
            raise ValueError(
                f"the shape latent must have {self.latent_dim} values, got {tuple(latent.shape)}"
            )
        return latent.expand(k, -1) if latent.shape[0] == 1 else latent

    @torch.no_grad()
    def decode(self, latent: Tensor, noise: Tensor) -> Tensor:
        """Map point noise y (K, P, 3) to points given shape latents (K, Z)."""
        return self.decoder.transform.inverse_value(noise, context=latent)

    @torch.no_grad()
    def sample_points(
        self,
        k: int,
        p: int,
        temperature: float = 1.0,
        latent: Tensor | None = None,
        noise: Tensor | None = None,
    ) -> Tensor:
        context = self._context(k, latent, temperature)
        if noise is None:
            noise = self.point_noise(context.shape[0], p, temperature)
        return self.decode(context, noise)

    def point_log_prob(self, points: Tensor, latent: Tensor | None = None) -> Tensor:
        """log p(x | z) per point, (B, N). Without a latent, each shape is encoded first
        (the mean of q(z | X)) and its points are scored under their own latent."""
        if latent is None:
            latent = self.encode(points)
        latent = self._context(points.shape[0], latent, 1.0)
        return self.decoder.log_prob(points, context=latent)

    @torch.no_grad()
    def trajectory(self, noise: Tensor, times: Sequence[float], latent: Tensor | None = None) -> Tensor:
        context = self._context(noise.shape[0], latent, 1.0)
        return cnf_trajectory(self.decoder, noise, times, context)
