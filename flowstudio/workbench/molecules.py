"""The molecule kind for the window: SMILES / CSV / SDF in, GraphAF trained, and what the
molecule pages show (depiction tiles with properties, generation with its validity /
uniqueness / novelty summary, interpolation in GraphAF's latent space, a 3-D conformer,
the MOSES metrics, exports).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from flowstudio.errors import BadInputError
from flowstudio.params import Param
from flowstudio.workbench.data import DataInfo, Exported, MoleculeEntry, Sample
from flowstudio.workbench.kinds import DataKind
from flowstudio.workbench.provenance import Provenance, read_provenance

PREVIEW_MOLECULES = 48
STATS_MOLECULES = 3000
GRID_MOLECULES = 60
"""Generated molecules shown as tiles (the summary counts them all)."""


def filters_note(counts: dict[str, int], top: int = 6) -> str:
    """The filter rules failed most (``counts``: evaluate's ``Filters_failures``), for the
    ``Filters`` row of the metrics table: which alerts a rate below 1 is made of."""
    if not counts:
        return "No valid sample fails a filter."
    return f"Failing most: {_most_frequent(counts, top, 'rule')}."


def unseen_kinds_note(counts: dict[str, int], top: int = 6) -> str:
    """The kinds of ring system the training set lacks that the samples hold most (``counts``:
    evaluate's ``unseen_ring_system_kinds``), for the ``unseen_ring_systems`` row."""
    if not counts:
        return "Every ring system of the samples is one the training molecules have."
    return f"Most frequent: {_most_frequent(counts, top, 'kind')}."


def _most_frequent(counts: dict[str, int], top: int, noun: str) -> str:
    """The first ``top`` of ``counts`` with their counts, and how many more ``noun``s."""
    shown = "; ".join(f"{name} ({count})" for name, count in list(counts.items())[:top])
    rest = len(counts) - top
    return shown + (f"; {rest} more {noun}{'s' if rest > 1 else ''}" if rest > 0 else "")


def entries_for(
    smiles: list[str | None],
    titles: list[str] | None = None,
    flags: list[tuple[str, ...]] | None = None,
    with_properties: bool = True,
) -> list[MoleculeEntry]:
    """Grid entries with RDKit properties (QED, logP, SA, MW) for the valid ones."""
    from flowstudio.molecules.chem import parse_smiles, properties

    entries = []
    for i, text in enumerate(smiles):
        props: dict[str, float] = {}
        if text and with_properties:
            try:
                props = properties(parse_smiles(text))
            except BadInputError:
                text = None
        entries.append(MoleculeEntry(text, titles[i] if titles else "", props, flags[i] if flags else ()))
    return entries


def conformer(smiles: str) -> tuple[list[str], np.ndarray, list[tuple[int, int, int]]]:
    """Elements, 3-D coordinates and bonds (i, j, order) of ``smiles``, hydrogens included:
    the embedding the 3-D SDF export writes (:func:`flowstudio.molecules.conformers.embed_3d`)."""
    from rdkit import Chem

    from flowstudio.molecules.conformers import embed_3d

    parsed = Chem.MolFromSmiles(smiles)
    if parsed is None:
        raise BadInputError(f"not a valid molecule: {smiles!r}")
    mol = embed_3d(parsed)
    if mol is None:
        raise BadInputError(f"RDKit could not embed a 3-D conformer for {smiles}")
    coords = mol.GetConformer().GetPositions()
    elements = [a.GetSymbol() for a in mol.GetAtoms()]
    bonds = [(b.GetBeginAtomIdx(), b.GetEndAtomIdx(), round(b.GetBondTypeAsDouble())) for b in mol.GetBonds()]
    return elements, coords, bonds


@dataclass(frozen=True)
class Generation:
    """Generated molecules (the engine's result), their summary rates and the first tiles."""

    result: Any
    summary: dict[str, float]
    entries: list[MoleculeEntry]


SDF_3D = "SDF with 3-D conformers"
"""The export filter that writes 3-D coordinates (the window's Export offers 2-D and 3-D)."""


def training_smiles(data: DataInfo | None) -> list[str]:
    """The loaded data set's SMILES (none before data is loaded)."""
    return list(data.data["set"].smiles) if data is not None else []


class MoleculesKind(DataKind):
    kind = "molecules"
    demo_run = "molecules-graphaf"

    # ------------------------------------------------------------------ engine
    def samples(self) -> list[Sample]:
        from flowstudio.molecules.samples import builtin_molecule_sets

        return [Sample(s.key, s.title, s.path, s.description) for s in builtin_molecule_sets()]

    def io(self) -> Any:
        from flowstudio.molecules import io

        return io

    def read_data(self, path: Path) -> DataInfo:
        """The set, with element proportions and sizes surveyed over its first molecules."""
        from rdkit import Chem

        from flowstudio.molecules import io

        molecules = io.read_molecules(path)
        elements: Counter[str] = Counter()
        sizes = []
        surveyed = molecules.smiles[:STATS_MOLECULES]  # enough for the proportions, fast to parse
        for text in surveyed:
            mol = Chem.MolFromSmiles(text)
            if mol is not None:
                elements.update(a.GetSymbol() for a in mol.GetAtoms())
                sizes.append(mol.GetNumHeavyAtoms())
        survey = "" if len(surveyed) == len(molecules) else f" (first {len(surveyed):,})"
        total = max(1, sum(elements.values()))
        rows = [
            ("Molecules", f"{len(molecules):,}"),
            ("Atom types", ", ".join(f"{e} {c / total:.1%}" for e, c in elements.most_common()) + survey),
            (
                "Heavy atoms",
                f"{min(sizes)}–{max(sizes)}, mean {sum(sizes) / len(sizes):.1f}{survey}" if sizes else "–",
            ),
            ("Source", Path(path).name),
        ]
        origin = read_provenance(path)
        if origin is not None:  # a file FlowStudio exported says where it came from
            rows.append(("From", origin.text()))
        preview = entries_for(
            molecules.smiles[:PREVIEW_MOLECULES], molecules.names[:PREVIEW_MOLECULES] or None
        )
        report = molecules.report
        data = {"set": molecules, "preview": preview}
        return DataInfo(Path(path).name, Path(path), rows, report.reasons, report.count, data)

    def models(self) -> list[str]:
        from flowstudio.molecules.task import MoleculeTask

        return [MoleculeTask.model_name]

    def presets(self) -> list[str]:
        from flowstudio.molecules import settings

        return list(settings.PRESETS)

    def params_for(self, model: str) -> list[Param]:
        from flowstudio.molecules import settings

        return list(settings.HYPERPARAMETERS)

    def preset_values(self, model: str, preset: str) -> dict[str, Any]:
        from flowstudio.molecules import settings

        return settings.resolve(preset)

    def task_factory(
        self, data: DataInfo, model: str, preset: str, values: dict[str, Any]
    ) -> Callable[[], Any]:
        from flowstudio.molecules.task import MoleculeTask

        smiles = training_smiles(data)
        return lambda: MoleculeTask(smiles, preset, values)

    # ------------------------------------------------------------------ analyses
    def live_entries(self, smiles: list[str | None], step: int) -> list[MoleculeEntry]:
        """Tiles of a live snapshot: the first titled with its step, invalid ones marked."""
        titles = [f"step {step}" if i == 0 else (s or "invalid") for i, s in enumerate(smiles)]
        return entries_for(smiles, titles)

    def run_temperature(self, restored: Any) -> float:
        """The sampling temperature the model's run was configured with (``mols sample``
        samples at it when given no ``--temperature``)."""
        return float(restored.task.values["temperature"])

    def bond_temperature(self, restored: Any, temperature: float) -> float:
        """The temperature the run's bond steps are drawn at when its atom steps' is
        ``temperature`` (its ``bond_temperature`` setting; the same for runs from before it)."""
        return float(restored.task.model.edge_temperature(temperature))

    def known_ring_systems(self, restored: Any) -> bool | None:
        """Whether the run draws again molecules with a kind of ring system its training
        molecules lack (its ``redraw_unseen_rings``); ``None`` when the run does not record
        their kinds (trained before FlowStudio kept them)."""
        model = restored.task.model
        return None if model.ring_systems is None else bool(model.redraw_unseen_rings)

    def _draw(
        self,
        restored: Any,
        n: int,
        temperature: float,
        check: bool,
        bond_temperature: float | None,
        known_rings: bool | None = None,
    ) -> Any:
        """``n`` molecules from the model, with the run's other sampling settings, as
        ``mols sample`` draws them from the same checkpoint (``bond_temperature`` as its
        ``--bond-temperature``, ``known_rings`` as its ``--known-ring-systems``; ``None``:
        the run's)."""
        from flowstudio.molecules.generate import generate

        task = restored.task
        return generate(
            task.model, n, temperature, check, max_retries=task.values["max_retries"],
            edge_temperature=bond_temperature, redraw_unseen_rings=known_rings,
        )

    def generate(
        self,
        restored: Any,
        n: int,
        temperature: float,
        check: bool,
        train: set[str],
        bond_temperature: float | None = None,
        known_rings: bool | None = None,
    ) -> Generation:
        """``n`` molecules at ``temperature`` (with GraphAF's valency check when ``check``;
        the bond steps at ``bond_temperature``, else the run's; molecules with a kind of ring
        system the data lacks drawn again as ``known_rings`` says, else as the run does), and
        the validity, validity without check, uniqueness and novelty against ``train``; then
        the share drawn again for each redraw that was on, under the reason's label."""
        from flowstudio.molecules.metrics import fraction_novel, fraction_unique, valid_molecules

        result = self._draw(restored, n, temperature, check, bond_temperature, known_rings)
        _, canonical = valid_molecules(result.smiles)
        summary = {
            "valid": result.validity,
            "valid w/o check": result.validity_without_check,
            "unique": fraction_unique(canonical),
            "novel": fraction_novel(canonical, train),
        }
        summary.update({reason.label: share for reason, share in result.redrawn_shares().items()})
        flags = [("resampled",) if r else () for r in result.resampled]
        entries = entries_for(result.smiles[:GRID_MOLECULES], flags=flags[:GRID_MOLECULES])
        return Generation(result, summary, entries)

    def parse_pair(self, a: str, b: str) -> tuple[Any, Any]:
        """The two molecules to interpolate between; :class:`BadInputError` names a bad one."""
        from flowstudio.molecules.chem import parse_smiles

        return parse_smiles(a.strip()), parse_smiles(b.strip())

    def interpolate(self, model: Any, a: Any, b: Any, steps: int) -> list[MoleculeEntry]:
        """Molecules decoded along GraphAF's latent path from ``a`` to ``b``, titled by t."""
        from flowstudio.molecules.latent import interpolate

        result = interpolate(model, a, b, steps)
        titles = [f"t={i / (steps - 1):.2f}  {s or 'invalid'}" for i, s in enumerate(result.smiles)]
        return entries_for(result.smiles, titles)

    def evaluate_in_full(
        self,
        restored: Any,
        n: int,
        temperature: float,
        train: list[str],
        fcd: bool,
        progress: Any,
        bond_temperature: float | None = None,
    ) -> Any:
        """The MOSES metrics of ``n`` molecules (with the valency check; the bond steps as in
        :meth:`generate`) and the histograms of their properties and ring sizes over the
        training set's."""
        from flowstudio.molecules.metrics import distribution_histograms, evaluate
        from flowstudio.workbench.evaluation import Evaluation, histogram_panels

        progress.stage = f"generating {n} molecules"
        result = self._draw(restored, n, temperature, True, bond_temperature)
        progress(0.5)
        progress.stage = "computing the metrics"
        scores = evaluate(
            result.smiles,
            train,
            valid_without_check=result.validity_without_check,
            fcd=fcd,
            canonicalize_train=False,
            filter_reasons=True,
            unseen_kinds=True,
        )
        failures = scores.pop("Filters_failures")  # notes beside the table, not rows
        unseen = scores.pop("unseen_ring_system_kinds")
        progress(0.8)
        progress.stage = "histograms"
        panels = histogram_panels(distribution_histograms(result.smiles, train))
        progress(1.0)
        notes = {"Filters": filters_note(failures), "unseen_ring_systems": unseen_kinds_note(unseen)}
        return Evaluation(scores, n, temperature, panels, notes, bond_temperature=result.edge_temperature)

    def metric_help(self) -> dict[str, str]:
        """One line of help per metric key (the metrics table's tooltips)."""
        from flowstudio.molecules.metric_help import METRIC_HELP

        return METRIC_HELP

    # ------------------------------------------------------------------ export
    def save_filters(self) -> list[str]:
        """The engine's export filters with SDF offered twice: 2-D depiction coordinates, and
        3-D conformers (ETKDGv3 + MMFF94, slower) for docking and 3-D viewers."""
        filters = super().save_filters()
        return [filters[0], f"{SDF_3D} (*.sdf)", *filters[1:]]

    def export(
        self,
        path: Path,
        smiles: list[str | None],
        three_d: bool = False,
        provenance: Provenance | None = None,
    ) -> Exported:
        """Write ``smiles`` to ``path``; SDF holds structures, so invalid ones are left out;
        ``three_d`` gives SDF files 3-D conformers instead of 2-D coordinates; ``provenance``
        becomes SD properties of every molecule (SDF, CSV columns) or comment lines."""
        from flowstudio.molecules import io

        if not smiles:
            raise BadInputError(
                "no molecules to export yet: train a model or open a checkpoint, then Generate"
            )
        note = ""
        if path.suffix.lower() in (".sdf", ".mol"):
            dropped = sum(s is None for s in smiles)
            smiles = [s for s in smiles if s is not None]
            if dropped:
                note = f"{dropped} invalid molecule(s) left out of the SDF file"
        fields = provenance.fields() if provenance else {}
        columns = {key: [value] * len(smiles) for key, value in fields.items()}
        comments = [f"{key}: {value}" for key, value in fields.items()]
        written = io.write_molecules(
            path, smiles, conformers_3d=three_d, extra_columns=columns, comments=comments
        )
        return Exported(written, note, "warning")
