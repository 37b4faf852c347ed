"""The GraphAF training task: data, model and hyperparameters for the training engine.

:class:`MoleculeTask` implements :class:`flowstudio.training.protocol.Task` (structurally;
this layer does not import the engine). Its :meth:`~MoleculeTask.config` is JSON and
rebuilds the model with :meth:`~MoleculeTask.from_config`, to resume a run or to open a
checkpoint for sampling. The hyperparameters and presets are
:mod:`flowstudio.molecules.settings`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from flowstudio.errors import BadInputError
from flowstudio.inputs import SkipReport
from flowstudio.molecules.calibration import EndCalibration
from flowstudio.molecules.chemistry_check import allowed_ring_sizes, format_ring_sizes, parse_ring_sizes
from flowstudio.molecules.generate import generate
from flowstudio.molecules.graph import (
    AtomVocabulary,
    MolGraph,
    fitting_order,
    graph_from_raw,
    vocabulary_from_raw,
)
from flowstudio.molecules.graphaf import GraphAF, GraphAFConfig
from flowstudio.molecules.packing import PackedSteps, pack_in_order
from flowstudio.molecules.parsing import read_graphs
from flowstudio.molecules.prefetch import AUTO_START_STEPS, BatchPrefetcher, draw_batch, worker_wanted
from flowstudio.molecules.settings import BY_NAME, resolve
from flowstudio.molecules.tilting import RingTilt, mean_fused_systems
from flowstudio.params import config_from
from flowstudio.task_types import Snapshot

RUNS_PREDATE = (
    *("valence_features", "full_covariance", "order_features"),
    *("end_step", "size_feature", "ring_features"),
    *("conjugation_features", "categorical_steps", "ring_types", "fusing_feature", "aromatic_types"),
)
"""Options added after the first runs: a run's config without one was made with it off."""
FINAL_CALIBRATION_ROUNDS = 3
"""Rounds of the END calibration in the last stage of a run (see final_stages)."""


def read_training_smiles(data: str | Path | list[str], limit: int | None) -> tuple[list[str], SkipReport]:
    """SMILES from a file (any format :mod:`flowstudio.molecules.io` reads, molecules over
    ``MAX_MODEL_ATOMS`` heavy atoms skipped) or a list, and what the file reader skipped."""
    if isinstance(data, list | tuple):
        return list(data)[:limit] if limit else list(data), SkipReport()
    from flowstudio.molecules.formats import MAX_MODEL_ATOMS
    from flowstudio.molecules.io import read_molecules

    result = read_molecules(data, limit=limit, max_atoms=MAX_MODEL_ATOMS)
    return result.smiles, result.report


class MoleculeTask:
    """GraphAF on a set of molecules (see the module docstring for the presets)."""

    kind = "molecules"
    model_name = "graphaf"
    cpu_threads = 1
    """Intra-op threads the engine trains with on the CPU (unless ``OMP_NUM_THREADS`` is set):
    a GraphAF step is hundreds of small operations, and on the shared 2-core machine one
    thread made twice the steps of two (``benchmarks/results/graphaf.md``, section 7)."""

    def __init__(
        self,
        data: str | Path | list[str] | None,
        preset: str = "quick",
        overrides: dict[str, Any] | None = None,
        vocab: AtomVocabulary | None = None,
    ) -> None:
        self.preset = preset
        self.values = resolve(preset, overrides)
        self.data_path = str(data) if isinstance(data, str | Path) else None
        self.data_report = SkipReport()  # what the reader and this task skipped, with reasons
        self.train_graphs: list[MolGraph] = []
        self._train_sizes: np.ndarray | None = None
        self.valid_graphs: list[MolGraph] = []
        self.train_smiles: list[str] = []
        self.skipped = 0
        self.device = torch.device("cpu")
        self._validation_batches: list[PackedSteps] | None = None
        self._prefetcher: BatchPrefetcher | None = None  # the packing worker (see training_step)
        self._steps_here = 0  # training steps since the last close()
        self._worker_batches = 0  # batches the closed workers packed
        # The ring check's 'auto' sizes, from the training molecules (see chemistry_check),
        # and the kinds of ring system they hold (the redraw_unseen_rings lookup).
        self._data_ring_sizes: tuple[int, ...] | None = None
        self._data_ring_systems: frozenset[str] | None = None
        if data is not None:
            vocab = self._load(data, vocab)
        if vocab is None:
            raise BadInputError("a molecule task needs data or a vocabulary")
        self.vocab = vocab
        v = self.values
        for name, made in (("ring_types", vocab.ring_types), ("aromatic_types", vocab.aromatic)):
            if _types_asked(v, name) != made:
                raise BadInputError(
                    f"{name}={str(v[name]).lower()} does not match the run's atom types "
                    f"(made with {name}={str(made).lower()}); it cannot change within a run"
                )
        config = config_from(GraphAFConfig, v)
        # The initial weights are a function of the seed alone: the CLI and the window build
        # the task before the engine seeds the generators, and a run must be repeatable.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(v["seed"])
            self.model = GraphAF(vocab, config)
        self.model.bond_temperature = v["bond_temperature"]
        self.model.redraw_cut = v["redraw_cut"]
        self.model.redraw_bondless = v["redraw_bondless"]
        self.model.redraw_hypervalent = v["redraw_hypervalent"]
        self.model.redraw_unseen_rings = v["redraw_unseen_rings"]
        self.model.ring_systems = self._data_ring_systems
        if v["ring_sizes"] != "auto":
            self.model.ring_sizes = parse_ring_sizes(v["ring_sizes"])
        elif self._data_ring_sizes is not None:
            self.model.ring_sizes = self._data_ring_sizes

    # ---- data -----------------------------------------------------------------------
    def _load(self, data: str | Path | list[str], vocab: AtomVocabulary | None) -> AtomVocabulary:
        v = self.values
        smiles, self.data_report = read_training_smiles(data, v["max_molecules"] or None)
        raws = []  # (text, raw graph, ring sizes, kinds of ring system)
        for text, read in read_graphs(smiles):  # in worker processes for big data sets
            if isinstance(read, str):
                self._skip(text, read)
                continue
            raws.append((text, *read))
        given = vocab is not None
        if vocab is None:
            if not raws:
                raise BadInputError("no usable molecule in the data (all invalid or disconnected)")
            # Every molecule then has a BFS ordering within the window (the one that set it).
            vocab = vocabulary_from_raw(
                (raw for _, raw, _, _ in raws), v["seed"], v["ring_types"], _types_asked(v, "aromatic_types")
            )
        graphs, kept, rings, systems = [], [], [], set()
        for text, raw, sizes, kinds in raws:
            try:
                graph = graph_from_raw(raw, vocab)
            except BadInputError as exc:
                self._skip(text, str(exc))
                continue
            if given and (
                graph.num_atoms > vocab.max_atoms or fitting_order(graph, vocab.edge_window, None) is None
            ):
                self._skip(text, "larger or more widely bonded than the run's model allows")
                continue
            graphs.append(graph)
            kept.append(text)
            rings.append(sizes)
            systems.update(kinds)
        if not graphs:
            raise BadInputError("no molecule of the data fits the model's vocabulary")
        self._data_ring_sizes = allowed_ring_sizes(rings)
        self._data_ring_systems = frozenset(systems)
        order = np.random.default_rng(v["seed"]).permutation(len(graphs))
        n_valid = min(v["max_validation"], round(len(graphs) * v["validation_fraction"]))
        if len(graphs) - n_valid < 1:
            n_valid = 0
        self.valid_graphs = [graphs[i] for i in order[:n_valid]]
        self.train_graphs = [graphs[i] for i in order[n_valid:]]
        self.train_smiles = [kept[i] for i in order[n_valid:]]
        return vocab

    def _skip(self, smiles: str, reason: str) -> None:
        self.skipped += 1
        self.data_report.add(smiles if len(smiles) <= 40 else smiles[:39] + "…", reason)

    # ---- config ---------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        return {
            "model_name": self.model_name,
            "preset": self.preset,
            "values": dict(self.values),
            "vocabulary": self.vocab.to_config(),
            "data_path": self.data_path,
            "ring_sizes": format_ring_sizes(self.model.ring_sizes),
            "ring_systems": None if self.model.ring_systems is None else sorted(self.model.ring_systems),
            "end_decision": "classifier",  # runs without it may have a two-class flow (refused)
        }

    @classmethod
    def from_config(cls, config: dict[str, Any], data: str | Path | list[str] | None = None) -> MoleculeTask:
        """Rebuild the task (and an untrained model of the same shape) from :meth:`config`.

        With ``data`` the molecules are read again (to resume training) under the saved
        vocabulary; without it the task can sample but not train.
        """
        if not isinstance(config, dict) or "vocabulary" not in config or "values" not in config:
            raise BadInputError("not a molecule task configuration (missing vocabulary or values)")
        if config.get("model_name", "graphaf") != "graphaf":
            raise BadInputError(f"not a GraphAF configuration (model {config.get('model_name')!r})")
        vocab = AtomVocabulary.from_config(config["vocabulary"])
        preset = str(config.get("preset", "quick"))
        values = config["values"]
        if not isinstance(values, dict):
            raise BadInputError("the configuration's values are not a mapping")
        chosen = values.get("end_classifier")  # the retired option, in runs from before it went
        classifier = chosen is True or (chosen is None and config.get("end_decision") == "classifier")
        if values.get("end_step", False) and not classifier:
            raise BadInputError(
                "this run's END step is a two-class flow (end_classifier=false, or a run from before "
                "end_classifier existed), a variant FlowStudio no longer builds; train the run again"
            )
        known = {k: val for k, val in values.items() if k in BY_NAME}
        # Runs from before an option existed were made without it.
        for option in RUNS_PREDATE:
            known.setdefault(option, False)
        known.setdefault("bond_temperature", 1.0)  # runs from before it drew bonds at T
        known.setdefault("classifier_layers", 1)  # runs from before it read decisions linearly
        known.setdefault("redraw_cut", False)  # runs from before it kept molecules cut at the cap
        known.setdefault("redraw_bondless", False)  # ... and those a bondless atom ended
        known.setdefault("redraw_hypervalent", False)  # ... and those with an [SH]
        known.setdefault("redraw_unseen_rings", False)  # ... and those with a ring system new to it
        known.setdefault("ring_tilt_steps", 0)  # runs from before the ring tilt stage
        task = cls(data, preset, known, vocab=vocab)
        if data is None:
            task.data_path = config.get("data_path")
            # The sizes the run's ring check used (a run from before it has none).
            task.model.ring_sizes = parse_ring_sizes(str(config.get("ring_sizes", "any")))
            task.model.ring_systems = _ring_systems_from(config.get("ring_systems"))
        return task

    # ---- the Task protocol ----------------------------------------------------------
    def to(self, device: torch.device) -> None:
        self.device = torch.device(device)
        self.model.to(self.device)
        self._validation_batches = None

    def _require_data(self) -> None:
        if not self.train_graphs:
            raise BadInputError("this task has no training data (rebuilt from a checkpoint without --data)")

    def _pack(self, graphs: list[MolGraph], rng: Any) -> PackedSteps:
        return pack_in_order(graphs, self.vocab, rng).to(self.device)

    def training_step(self, step: int) -> dict[str, Tensor]:
        self._require_data()
        # The global numpy generator: checkpoints keep its state, so a resume is exact. The
        # packing worker draws from a copy of it and hands back the state after the batch
        # (see flowstudio.molecules.prefetch): the same batches, with or without it.
        batch_size = self.values["batch_size"]
        worker = self._packing_worker()
        drawn = worker.take(np.random.get_state()) if worker is not None else None
        if drawn is None:
            packed = draw_batch(self.train_graphs, self.vocab, batch_size, np.random)
        else:
            packed, after = drawn
            np.random.set_state(after)
        if worker is not None:
            worker.request(np.random.get_state())  # the next batch, packed during this step
        return self.model.loss_terms(packed.to(self.device))

    def _packing_worker(self) -> BatchPrefetcher | None:
        """The packing worker of this session (started on demand, see ``pack_worker``)."""
        self._steps_here += 1
        setting = self.values["pack_worker"]
        due = setting == "on" or self._steps_here >= AUTO_START_STEPS
        if self._prefetcher is None and due and worker_wanted(setting):
            self.start_packing_worker()
        return self._prefetcher if self._prefetcher is not None and self._prefetcher.running else None

    def start_packing_worker(self, wait_s: float = 0.0) -> bool:
        """Start the packing worker now (training starts it itself, see ``pack_worker``) and
        wait up to ``wait_s`` seconds until it is ready; whether it is."""
        self._require_data()
        if self._prefetcher is None:
            self._prefetcher = BatchPrefetcher(self.train_graphs, self.vocab, self.values["batch_size"])
        return self._prefetcher.wait_ready(wait_s)

    @property
    def worker_batches(self) -> int:
        """Training batches the packing worker packed, since the task was made."""
        current = self._prefetcher.delivered if self._prefetcher is not None else 0
        return self._worker_batches + current

    def close(self) -> None:
        """End the packing worker (the engine calls this when a run ends, however it ends; a
        later run starts another)."""
        if self._prefetcher is not None:
            self._prefetcher.close()
            self._worker_batches += self._prefetcher.delivered
        self._prefetcher, self._steps_here = None, 0

    def nfe(self) -> tuple[float | None, float | None]:
        return None, None

    @torch.no_grad()
    def validation_metric(self) -> float:
        """Mean negative log-likelihood per held-out molecule (fixed orderings and noise);
        the END step's size calibration is a final stage (:meth:`final_stages`), and the
        likelihood does not depend on it."""
        graphs = self.valid_graphs or self.train_graphs[: self.values["max_validation"]]
        if not graphs:
            return float("nan")
        if self._validation_batches is None:
            rng = np.random.default_rng(12345)
            size = max(64, self.values["batch_size"])
            self._validation_batches = [
                self._pack(graphs[k : k + size], rng) for k in range(0, len(graphs), size)
            ]
        generator = torch.Generator(device=self.device)
        generator.manual_seed(0)
        total, count = 0.0, 0
        for packed in self._validation_batches:
            node_noise = torch.rand(
                (packed.node_target.numel(), self.model.node_latent_dim),
                generator=generator,
                device=self.device,
            )
            edge_noise = torch.rand((packed.edge_target.numel(), 4), generator=generator, device=self.device)
            per_node, per_edge = self.model.log_likelihood(packed, node_noise, edge_noise)
            total += float(per_node.sum() + per_edge.sum())
            count += packed.num_molecules
        return -total / count

    def snapshot(self, n: int, temperature: float | None = None) -> Snapshot:
        """``n`` molecules drawn as users sample them (the valency and ring checks), at the
        ``temperature`` setting unless another is given."""
        t = self.values["temperature"] if temperature is None else temperature
        drawn = generate(self.model, n, temperature=t, check=True, max_retries=self.values["max_retries"])
        return Snapshot.of_molecules(drawn.smiles, t)

    def final_stages(self) -> list[RingTilt | EndCalibration]:
        """The last stages of a run, on the weights the engine keeps: ``ring_tilt_steps`` of
        tilted self-training (:mod:`flowstudio.molecules.tilting`; off at 0), then three
        rounds of the END step's size calibration, each on twice ``size_calibration`` of the
        model's own molecules (none when it is off or the model has no END classifier), so
        that the sizes are fitted to the model the run hands over."""
        v = self.values
        stages: list[RingTilt | EndCalibration] = []
        if v["ring_tilt_steps"] > 0 and self.train_graphs:
            target = mean_fused_systems(self.train_smiles)
            stages.append(RingTilt(
                self.model, self.train_graphs, target, v["ring_tilt_steps"], batch_size=v["batch_size"],
                lr=v["lr"], temperature=v["temperature"], weight_average=v["weight_average"], seed=v["seed"],
            ))
        if self._calibrates():
            n, temperature = 2 * v["size_calibration"], v["temperature"]
            stages.append(
                EndCalibration(self.model, self._training_sizes(), n, temperature, FINAL_CALIBRATION_ROUNDS)
            )
        return stages

    def _training_sizes(self) -> np.ndarray:
        if self._train_sizes is None:
            self._train_sizes = np.array([g.num_atoms for g in self.train_graphs])
        return self._train_sizes

    def _calibrates(self) -> bool:
        """Whether runs calibrate the END step: it is on, the model has an END classifier,
        and there are training molecules to match."""
        on = self.values["size_calibration"] > 0
        return on and self.model.stop_logit is not None and bool(self.train_graphs)

    def extra_state(self) -> dict[str, Tensor]:
        """The END step's size calibration (not a parameter: no gradient reaches it)."""
        return {"end_offset": self.model.end_offset.detach().cpu().clone()}

    def load_extra_state(self, state: dict[str, Tensor]) -> None:
        offset = state.get("end_offset")
        if offset is None:  # a run from before the calibration existed
            return
        if not isinstance(offset, Tensor) or offset.shape != self.model.end_offset.shape:
            raise BadInputError(
                f"the checkpoint's END calibration has shape {getattr(offset, 'shape', None)}, "
                f"the model expects {tuple(self.model.end_offset.shape)}"
            )
        if not torch.isfinite(offset).all():
            raise BadInputError("the checkpoint's END calibration is not finite")
        self.model.end_offset.copy_(offset.to(self.model.end_offset.device))


def _ring_systems_from(saved: Any) -> frozenset[str] | None:
    """The training molecules' kinds of ring system as a run's configuration saved them
    (``None``: a run from before they were kept); refused when not a list of SMILES."""
    if saved is None:
        return None
    if not isinstance(saved, list) or not all(isinstance(kind, str) for kind in saved):
        raise BadInputError("the configuration's ring_systems is not a list of SMILES")
    return frozenset(saved)


def _types_asked(values: dict[str, Any], name: str) -> bool:
    """Whether ``values`` ask for atom types split by ``name`` (``ring_types``, or
    ``aromatic_types``, which splits only ring types and so needs them)."""
    return bool(values["ring_types"] and values[name])
