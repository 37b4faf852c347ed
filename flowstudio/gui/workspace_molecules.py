"""The molecule workspace: SMILES/CSV/SDF in, GraphAF trained, molecules generated and judged.

Tabs: the data set as depictions, the live training chart and samples, and one page each
for generation at a temperature, interpolation between two molecules in GraphAF's latent
space, property optimization, likelihood scores with the invertibility check, a 3-D
conformer of the selected molecule and the MOSES metrics (:mod:`.pages`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QSplitter, QTabWidget

from flowstudio.gui.pages.molecules_conformer import ConformerPage
from flowstudio.gui.pages.molecules_generation import GenerationPage
from flowstudio.gui.pages.molecules_interpolation import MoleculeInterpolationPage
from flowstudio.gui.pages.molecules_metrics import MetricsPage
from flowstudio.gui.pages.molecules_optimize import OptimizationPage
from flowstudio.gui.pages.molecules_scores import MoleculeScoresPage
from flowstudio.gui.views_molecules import MoleculeGrid
from flowstudio.gui.workspace import Workspace
from flowstudio.workbench.data import DataInfo
from flowstudio.workbench.molecules import SDF_3D, MoleculesKind
from flowstudio.workbench.provenance import of_model

LIVE_MOLECULES = 24


class MoleculesWorkspace(Workspace):
    kind_adapter = MoleculesKind()

    def build_views(self, tabs: QTabWidget) -> None:
        self.preview = MoleculeGrid(self, placeholder="Open a molecule file or pick a built-in sample.")
        tabs.addTab(self.preview, "Data")

        self.training_tab = QSplitter(Qt.Orientation.Vertical, self)
        self.live_grid = MoleculeGrid(
            self,
            max_shown=LIVE_MOLECULES,
            placeholder="Live samples appear here every few seconds while training.",
        )
        self.training_tab.addWidget(self.chart)
        self.training_tab.addWidget(self.live_grid)
        self.training_tab.addWidget(self.history_bar)
        self.training_tab.setSizes([300, 400, 30])
        tabs.addTab(self.training_tab, "Training")

        self.generation_page = GenerationPage(self)
        self.interpolation_page = MoleculeInterpolationPage(self)
        self.conformer_page = ConformerPage(self)
        self.metrics_page = MetricsPage(self)
        tabs.addTab(self.generation_page, "Samples")
        tabs.addTab(self.interpolation_page, "Interpolation")
        self.optimization_page = OptimizationPage(self)
        tabs.addTab(self.optimization_page, "Optimize")
        self.scores_page = MoleculeScoresPage(self)
        tabs.addTab(self.scores_page, "Scores")
        tabs.addTab(self.conformer_page, "3-D")
        tabs.addTab(self.metrics_page, "Metrics")
        # the widgets the tests and the screenshot script reach by name
        page = self.generation_page
        self.sample_grid, self.summary, self.gen_count = page.grid, page.summary, page.count
        page = self.interpolation_page
        self.interp_grid, self.interp_a, self.interp_b, self.interp_steps = (
            page.grid,
            page.a,
            page.b,
            page.steps,
        )
        self.view3d = self.conformer_page.view
        self.metrics = self.metrics_page.table
        self.opt_grid = self.optimization_page.grid
        for grid in (self.preview, self.live_grid, self.sample_grid, self.interp_grid, self.opt_grid):
            grid.activated.connect(lambda i, g=grid: self.select(g, i))
        self.live_smiles: list[str | None] = []
        self.selected_smiles: str | None = None

    @property
    def generated(self) -> Any:
        """The engine's result of the last generation (``None`` before the first)."""
        return self.generation_page.generated

    # ------------------------------------------------------------------ data and live samples
    def show_data(self, info: DataInfo) -> None:
        self.preview.set_entries(info.data["preview"])
        smiles = info.data["set"].smiles
        if len(smiles) >= 2:
            self.interpolation_page.set_ends(smiles[0], smiles[1])
        if smiles:
            self.optimization_page.set_start(smiles[0])
        self.show_first_tab()

    def show_live_samples(self, event: Any) -> None:
        if event.smiles is None:
            return
        self.live_smiles = list(event.smiles)
        valid = sum(s is not None for s in self.live_smiles)
        self.live_grid.set_entries(self.kind_adapter.live_entries(self.live_smiles, event.step))
        self.status.emit(f"step {event.step}: {valid}/{len(self.live_smiles)} live samples valid")

    def select(self, grid: MoleculeGrid, index: int) -> None:
        if index >= len(grid.entries) or not grid.entries[index].smiles:
            return
        self.selected_smiles = grid.entries[index].smiles
        grid.set_selection({index: "selected"})
        self.status.emit(f"selected {self.selected_smiles}")
        self.show_3d(self.selected_smiles, switch=False)

    def show_3d(self, smiles: str | None, switch: bool = True) -> None:
        self.conformer_page.show_molecule(smiles, switch)

    # ------------------------------------------------------------------ model queries
    def model_ready(self) -> None:
        temperature = self.kind_adapter.run_temperature(self.model)
        bonds = self.kind_adapter.bond_temperature(self.model, temperature)
        self.log(
            f"model ready for generation ({self.model.model_name}, its run samples at T = {temperature:g}"
            + (f", bonds {bonds:.2g})" if bonds != temperature else ")")
        )
        page = self.generation_page
        if not self.settings.value(f"{self.kind}/generation_temperature"):  # the user's choice wins
            page.temperature.set_value(temperature)
        page.bonds.set_value(self.kind_adapter.bond_temperature(self.model, page.temperature.value()))
        page.show_ring_systems(self.kind_adapter.known_ring_systems(self.model))
        self.generate()

    def export_provenance(self) -> Any:
        page = self.generation_page
        if self.model is None or page.generated is None:
            return None
        bonds = page.generated_bonds if page.generated_bonds != page.generated_temperature else None
        return of_model(self.model, page.generated_temperature, None, bonds)  # generation takes no seed

    def persisted_sliders(self) -> dict[str, Any]:
        return {"generation_temperature": self.generation_page.temperature}

    def generate(self) -> None:
        self.generation_page.refresh()

    def interpolate(self) -> None:
        self.interpolation_page.refresh()

    def evaluate(self) -> None:
        self.metrics_page.refresh()

    # ------------------------------------------------------------------ export
    def export_samples(self, path: Path, chosen_filter: str = "") -> Path:
        smiles = list(self.generated.smiles) if self.generated is not None else list(self.live_smiles)
        three_d = chosen_filter.startswith(SDF_3D)
        exported = self.kind_adapter.export(path, smiles, three_d, self.export_provenance())
        if exported.note:
            self.log(exported.note, exported.level)
        return exported.path
