"""The molecule workspace: SMILES/CSV/SDF in, GraphAF trained, molecules generated and judged.

Views: the data set as depictions, the live training chart and samples, generation at a
temperature with a validity / uniqueness / novelty summary, interpolation between two
molecules in GraphAF's latent space, a 3-D conformer of the selected molecule and the
MOSES metrics table.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from flowstudio.errors import BadInputError
from flowstudio.gui.backend import DataInfo, Sample, load_trained
from flowstudio.gui.views_molecules import (
    MetricsTable,
    Molecule3DView,
    MoleculeEntry,
    MoleculeGrid,
    conformer,
)
from flowstudio.gui.widgets import LabeledSlider, controls_row, icon, view_page
from flowstudio.gui.workspace import Workspace
from flowstudio.params import Param

if TYPE_CHECKING:
    from flowstudio.training.events import Samples
    from flowstudio.training.restore import RestoredTask

PREVIEW_MOLECULES = 48
STATS_MOLECULES = 3000
NO_MODEL = "Train a model (Train) or open a checkpoint (File > Open checkpoint…) to generate molecules."
METRIC_TIPS = {
    "valid": "Fraction of generated molecules RDKit accepts",
    "valid_without_check": "Valid molecules that needed no valency correction (GraphAF's 'w/o check')",
    "unique@1000": "Distinct canonical SMILES among the first 1,000 valid molecules",
    "unique@10000": "Distinct canonical SMILES among the first 10,000 valid molecules",
    "unique": "Distinct canonical SMILES among all valid molecules",
    "novel": "Distinct valid molecules that are not in the training set",
    "IntDiv1": "Internal diversity: 1 - mean Tanimoto similarity between generated molecules",
    "IntDiv2": "Internal diversity with the squared similarity (p = 2)",
    "IntDiv": "Same as IntDiv1",
    "SNN/Test": "Mean similarity of each generated molecule to its nearest reference molecule",
    "Frag/Test": "Cosine similarity of BRICS fragment counts to the reference (1 = same)",
    "Scaf/Test": "Cosine similarity of Bemis-Murcko scaffold counts to the reference (1 = same)",
    "FCD/Test": "Fréchet ChemNet Distance to the reference set (lower is better)",
    "logP": "Wasserstein distance of the logP distribution to the reference (lower is better)",
    "SA": "Wasserstein distance of synthetic-accessibility scores to the reference",
    "QED": "Wasserstein distance of drug-likeness (QED) to the reference",
    "weight": "Wasserstein distance of molecular weights to the reference",
    "heavy_atoms": "Wasserstein distance of heavy-atom counts to the reference",
    "heavy_atoms_mean": "Mean heavy atoms per generated molecule",
    "heavy_atoms_mean_ref": "Mean heavy atoms per reference molecule",
}


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


class MoleculesWorkspace(Workspace):
    kind = "molecules"
    title = "Molecules"

    # ------------------------------------------------------------------ engine hooks
    def samples(self) -> list[Sample]:
        from flowstudio.molecules.samples import builtin_molecule_sets

        return [Sample(s.key, s.title, s.path, s.description) for s in builtin_molecule_sets()]

    def open_filters(self) -> list[str]:
        from flowstudio.molecules import io

        return io.open_dialog_filters()

    def save_filters(self) -> list[str]:
        from flowstudio.molecules import io

        return io.save_dialog_filters()

    def read_data(self, path: Path) -> DataInfo:
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
        rows = [
            ("Molecules", f"{len(molecules):,}"),
            (
                "Atom types",
                ", ".join(f"{e} {c / max(1, sum(elements.values())):.1%}" for e, c in elements.most_common())
                + survey,
            ),
            (
                "Heavy atoms",
                f"{min(sizes)}–{max(sizes)}, mean {sum(sizes) / len(sizes):.1f}{survey}" if sizes else "–",
            ),
            ("Source", Path(path).name),
        ]
        skipped = [str(s) for s in molecules.skipped]
        preview = entries_for(
            molecules.smiles[:PREVIEW_MOLECULES], molecules.names[:PREVIEW_MOLECULES] or None
        )
        return DataInfo(
            Path(path).name,
            Path(path),
            rows,
            skipped,
            molecules.skipped_count,
            {"set": molecules, "preview": preview},
        )

    def models(self) -> list[str]:
        from flowstudio.molecules.task import MoleculeTask

        return [MoleculeTask.model_name]

    def presets(self) -> list[str]:
        from flowstudio.molecules import task

        return list(task.PRESETS)

    def params_for(self, model: str) -> list[Param]:
        from flowstudio.molecules import task

        return list(task.HYPERPARAMETERS)

    def preset_values(self, model: str, preset: str) -> dict[str, Any]:
        from flowstudio.molecules import task

        return task.resolve(preset)

    def task_factory(self, data: DataInfo, model: str, preset: str, values: dict[str, Any]):
        from flowstudio.molecules.task import MoleculeTask

        smiles = list(data.data["set"].smiles)
        return lambda: MoleculeTask(smiles, preset, values)

    def load_model(self, checkpoint: Path) -> RestoredTask:
        return load_trained(checkpoint, self.kind)

    # ------------------------------------------------------------------ views
    def build_views(self, tabs: QTabWidget) -> None:
        self.preview = MoleculeGrid(self, placeholder="Open a molecule file or pick a built-in sample.")
        tabs.addTab(self.preview, "Data")

        self.training_tab = QSplitter(Qt.Orientation.Vertical, self)
        self.live_grid = MoleculeGrid(
            self, max_shown=24, placeholder="Live samples appear here every few seconds while training."
        )
        self.training_tab.addWidget(self.chart)
        self.training_tab.addWidget(self.live_grid)
        self.training_tab.setSizes([300, 400])
        tabs.addTab(self.training_tab, "Training")

        tabs.addTab(self._build_samples_tab(), "Samples")
        tabs.addTab(self._build_interpolation_tab(), "Interpolation")
        self.view3d = Molecule3DView(self)
        self.smiles_3d = QLineEdit(self)
        self.smiles_3d.setPlaceholderText("SMILES, or click any molecule")
        show3d = QPushButton("Show", self)
        show3d.clicked.connect(lambda: self.show_3d(self.smiles_3d.text().strip()))
        self.smiles_3d.returnPressed.connect(lambda: self.show_3d(self.smiles_3d.text().strip()))
        tabs.addTab(
            view_page(self, controls_row(QLabel("Molecule"), self.smiles_3d, show3d), self.view3d), "3-D"
        )
        tabs.addTab(self._build_metrics_tab(), "Metrics")
        for grid in (self.preview, self.live_grid, self.sample_grid, self.interp_grid):
            grid.activated.connect(lambda i, g=grid: self.select(g, i))
        self.generated: Any = None
        self.live_smiles: list[str | None] = []
        self.selected_smiles: str | None = None

    def _build_samples_tab(self) -> QWidget:
        self.gen_count = QSpinBox(self)
        self.gen_count.setRange(1, 10000)
        self.gen_count.setValue(48)
        self.gen_count.setPrefix("n ")
        self.gen_count.setToolTip("How many molecules to generate (the grid shows the first 60)")
        self.gen_temperature = LabeledSlider(
            "Temperature",
            0.0,
            1.5,
            0.75,
            150,
            tooltip=(
                "Scales the prior's noise: GraphAF samples at 0.75 by default; lower is more conservative"
            ),
        )
        self.gen_check = QCheckBox("Valency check", self)
        self.gen_check.setChecked(True)
        self.gen_check.setToolTip("Redraw bonds that would exceed an atom's valence (GraphAF §3.3)")
        self.generate_button = QPushButton(icon("dice"), "Generate", self)
        self.generate_button.clicked.connect(self.generate)
        self.gen_temperature.released.connect(lambda _: self.generate())
        self.summary = QLabel(NO_MODEL, self)
        self.summary.setObjectName("SummaryLabel")
        self.summary.setWordWrap(True)
        self.sample_grid = MoleculeGrid(self, placeholder=NO_MODEL)
        return view_page(
            self,
            controls_row(self.gen_count, self.gen_temperature, self.gen_check, self.generate_button),
            self.sample_grid,
            self.summary,
        )

    def _build_interpolation_tab(self) -> QWidget:
        self.interp_a = QLineEdit(self)
        self.interp_b = QLineEdit(self)
        self.interp_a.setPlaceholderText("first molecule (SMILES)")
        self.interp_b.setPlaceholderText("second molecule (SMILES)")
        use_a = QPushButton("← selected", self)
        use_b = QPushButton("← selected", self)
        use_a.setToolTip("Use the molecule last clicked in any grid")
        use_b.setToolTip("Use the molecule last clicked in any grid")
        use_a.clicked.connect(lambda: self._use_selected(self.interp_a))
        use_b.clicked.connect(lambda: self._use_selected(self.interp_b))
        self.interp_steps = QSpinBox(self)
        self.interp_steps.setRange(2, 24)
        self.interp_steps.setValue(8)
        self.interp_steps.setPrefix("steps ")
        button = QPushButton("Interpolate", self)
        button.clicked.connect(self.interpolate)
        self.interp_grid = MoleculeGrid(
            self, placeholder="Pick two molecules and press Interpolate.\n" + NO_MODEL
        )
        controls = QVBoxLayout()
        controls.addLayout(controls_row(QLabel("A"), self.interp_a, use_a))
        controls.addLayout(controls_row(QLabel("B"), self.interp_b, use_b, self.interp_steps, button))
        for edit in (self.interp_a, self.interp_b):
            edit.setMinimumWidth(320)
        return view_page(self, controls, self.interp_grid)

    def _use_selected(self, edit: QLineEdit) -> None:
        if self.selected_smiles:
            edit.setText(self.selected_smiles)
        else:
            self.notify("Click a molecule in any grid first.")

    def _build_metrics_tab(self) -> QWidget:
        self.metrics_count = QSpinBox(self)
        self.metrics_count.setRange(10, 30000)
        self.metrics_count.setValue(500)
        self.metrics_count.setPrefix("samples ")
        self.metrics_fcd = QCheckBox("FCD (slow on a CPU)", self)
        evaluate = QPushButton("Evaluate", self)
        evaluate.setToolTip("Generate molecules and compute the MOSES metrics against the data")
        evaluate.clicked.connect(self.evaluate)
        self.metrics = MetricsTable(self)
        return view_page(self, controls_row(self.metrics_count, self.metrics_fcd, evaluate), self.metrics)

    # ------------------------------------------------------------------ data and live samples
    def show_data(self, info: DataInfo) -> None:
        preview = info.data["preview"]
        self.preview.set_entries(preview)
        molecules = info.data["set"]
        if len(molecules.smiles) >= 2:
            self.interp_a.setText(molecules.smiles[0])
            self.interp_b.setText(molecules.smiles[1])
        if not self.training:
            self.tabs.setCurrentWidget(self.preview)

    def show_live_samples(self, event: Samples) -> None:
        if event.smiles is None:
            return
        self.live_smiles = list(event.smiles)
        valid = sum(s is not None for s in self.live_smiles)
        titles = [f"step {event.step}" if i == 0 else "" for i in range(len(self.live_smiles))]
        self.live_grid.set_entries(
            entries_for(
                self.live_smiles,
                [t or (s or "invalid") for t, s in zip(titles, self.live_smiles, strict=True)],
            )
        )
        self.status.emit(f"step {event.step}: {valid}/{len(self.live_smiles)} live samples valid")

    def select(self, grid: MoleculeGrid, index: int) -> None:
        if index >= len(grid.entries) or not grid.entries[index].smiles:
            return
        self.selected_smiles = grid.entries[index].smiles
        grid.set_selection({index: "selected"})
        self.status.emit(f"selected {self.selected_smiles}")
        self.show_3d(self.selected_smiles, switch=False)

    def show_3d(self, smiles: str | None, switch: bool = True) -> None:
        if not smiles:
            return
        self.smiles_3d.setText(smiles)

        def done(result) -> None:
            self.view3d.show_conformer(smiles, *result)
            if switch:
                self.tabs.setCurrentWidget(self.view3d.parentWidget())

        self.io_jobs.submit("conformer", lambda: conformer(smiles), done)

    # ------------------------------------------------------------------ model queries
    def model_ready(self) -> None:
        self.log(f"model ready for generation ({self.model.model_name})")
        self.generate()

    def generate(self) -> None:
        if self.model is None:
            return
        from flowstudio.molecules.generate import generate
        from flowstudio.molecules.metrics import fraction_novel, fraction_unique, valid_molecules

        model, n = self.model, self.gen_count.value()
        temperature, check = self.gen_temperature.value(), self.gen_check.isChecked()
        train = set(self.data.data["set"].smiles) if self.data else set()

        def work():
            result = generate(model.task.model, n, temperature, check)
            _, canonical = valid_molecules(result.smiles)
            summary = {
                "valid": result.validity,
                "valid w/o check": result.validity_without_check,
                "unique": fraction_unique(canonical),
                "novel": fraction_novel(canonical, train),
            }
            flags = [("resampled",) if r else () for r in result.resampled]
            return result, summary, entries_for(result.smiles[:60], flags=flags[:60])

        def done(payload) -> None:
            result, summary, entries = payload
            self.generated = result
            self.sample_grid.set_entries(entries)
            self.summary.setText(
                f"{n} molecules at T = {temperature:.2f}"
                + (" with" if check else " without")
                + " valency check: "
                + " · ".join(f"{k} {v:.1%}" for k, v in summary.items())
            )

        self.jobs.submit("generate", work, done)

    def interpolate(self) -> None:
        if self.model is None:
            self.error("Interpolation needs a trained model: train one or open a checkpoint.")
            return
        from flowstudio.molecules.chem import parse_smiles
        from flowstudio.molecules.latent import interpolate

        try:
            a, b = parse_smiles(self.interp_a.text().strip()), parse_smiles(self.interp_b.text().strip())
        except BadInputError as exc:
            self.error(f"Interpolation: {exc}")
            return
        model, steps = self.model, self.interp_steps.value()

        def work():
            result = interpolate(model.task.model, a, b, steps)
            titles = [f"t={i / (steps - 1):.2f}  {s or 'invalid'}" for i, s in enumerate(result.smiles)]
            return entries_for(result.smiles, titles)

        self.jobs.submit("interpolate", work, self.interp_grid.set_entries)

    def evaluate(self) -> None:
        if self.model is None or self.data is None:
            self.error("Metrics need a trained model and the training data.")
            return
        from flowstudio.molecules.generate import generate
        from flowstudio.molecules.metrics import evaluate

        model, n, fcd = self.model, self.metrics_count.value(), self.metrics_fcd.isChecked()
        train = list(self.data.data["set"].smiles)
        temperature = self.gen_temperature.value()

        def work():
            result = generate(model.task.model, n, temperature, True)
            return evaluate(
                result.smiles,
                train,
                valid_without_check=result.validity_without_check,
                fcd=fcd,
                canonicalize_train=False,
            )

        self.metrics.set_metrics({"computing…": None})
        self.jobs.submit("metrics", work, lambda m: self.metrics.set_metrics(m, METRIC_TIPS))

    # ------------------------------------------------------------------ export
    def export_samples(self, path: Path) -> Path:
        from flowstudio.molecules import io

        smiles = list(self.generated.smiles) if self.generated is not None else list(self.live_smiles)
        if not smiles:
            raise BadInputError(
                "no molecules to export yet: train a model or open a checkpoint, then Generate"
            )
        if path.suffix.lower() in (".sdf", ".mol"):
            dropped = sum(s is None for s in smiles)
            smiles = [s for s in smiles if s is not None]
            if dropped:
                self.log(f"{dropped} invalid molecule(s) left out of the SDF file", "warning")
        return io.write_molecules(path, smiles)
