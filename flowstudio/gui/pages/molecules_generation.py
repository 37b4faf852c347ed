"""Molecules generated at a temperature (and the bond steps at their own), with or without
GraphAF's valency check, as depiction tiles over a validity / uniqueness / novelty summary."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QCheckBox, QLabel, QPushButton, QSpinBox

from flowstudio.gui.pages.base import NO_MODEL, AnalysisPage
from flowstudio.gui.views_molecules import MoleculeGrid
from flowstudio.gui.widgets import LabeledSlider, controls_row, icon, stacked
from flowstudio.params import MOLECULE_TEMPERATURE
from flowstudio.workbench.molecules import Generation, training_smiles

KNOWN_RINGS_TIP = (
    "With the check, draw again every molecule with a kind of ring system (fused rings as one, substituents "
    "left out) that no training molecule has; set to the run's when a model opens"
)


class GenerationPage(AnalysisPage):
    action = "press Generate"

    def __init__(self, workspace) -> None:
        super().__init__(workspace)
        self.count = QSpinBox(self)
        self.count.setRange(1, 10000)
        self.count.setValue(48)
        self.count.setPrefix("n ")
        self.count.setToolTip("How many molecules to generate (the grid shows the first 60)")
        self.temperature = LabeledSlider(
            "Temperature",
            0.0,
            1.5,
            MOLECULE_TEMPERATURE,
            150,
            tooltip=(
                "Scales the prior's noise; set to the run's sampling temperature when a model opens. "
                "Lower is more conservative"
            ),
        )
        self.bonds = LabeledSlider(
            "Bonds",
            0.0,
            1.5,
            MOLECULE_TEMPERATURE,
            150,
            tooltip=(
                "The bond steps' temperature; set to the run's (its temperature times its bond_temperature) "
                "when a model opens. Cooler bonds keep open C=C/C=N bonds and filter failures out, and also "
                "take fused ring systems (indoles, quinolines) away"
            ),
        )
        self.check = QCheckBox("Valency check", self)
        self.check.setChecked(True)
        self.check.setToolTip("Redraw bonds that would exceed an atom's valence (GraphAF §3.3)")
        self.known_rings = QCheckBox("Known rings", self)
        self.known_rings.setToolTip(KNOWN_RINGS_TIP)
        self.button = QPushButton(icon("dice"), "Generate", self)
        self.button.clicked.connect(self.refresh)
        self.temperature.released.connect(lambda _: self.refresh())
        self.bonds.released.connect(lambda _: self.refresh())
        self.summary = QLabel(NO_MODEL, self)
        self.summary.setObjectName("SummaryLabel")
        self.summary.setWordWrap(True)
        self.grid = MoleculeGrid(self, placeholder=NO_MODEL)
        self.generated: Any = None  # the engine's result of the last generation
        self.generated_temperature = 1.0
        self.generated_bonds = 1.0
        checks = stacked(self, self.check, self.known_rings)
        self.lay_out(
            controls_row(self.count, self.temperature, self.bonds, checks, self.button),
            self.grid,
            self.summary,
        )

    def show_ring_systems(self, known: bool | None) -> None:
        """Set the ring-system redraw to a run's (:meth:`known_ring_systems` of the adapter);
        ``None``: the run cannot, and the box says why."""
        self.known_rings.setEnabled(known is not None)
        self.known_rings.setChecked(bool(known))
        cannot = "The run does not record its training molecules' ring systems"
        self.known_rings.setToolTip(KNOWN_RINGS_TIP if known is not None else cannot)

    def show_run_state(self, activity: str, has_model: bool) -> None:
        super().show_run_state(activity, has_model)
        if self.generated is None:
            self.summary.setText(self.grid.placeholder_text)

    def refresh(self) -> None:
        if self.model is None:
            return
        model, n = self.model, self.count.value()
        temperature, check = self.temperature.value(), self.check.isChecked()
        train = set(training_smiles(self.workspace.data))
        bond_t = self.bonds.value()
        bonds = f" (bonds {bond_t:.2f})" if bond_t != temperature else ""
        known = self.known_rings.isChecked() if self.known_rings.isEnabled() else None

        def done(generation: Generation) -> None:
            self.generated = generation.result
            self.generated_temperature, self.generated_bonds = temperature, bond_t
            self.grid.set_entries(generation.entries)
            self.summary.setText(
                f"{n} molecules at T = {temperature:.2f}{bonds}"
                + (" with" if check else " without")
                + " valency check: "
                + " · ".join(f"{k} {v:.1%}" for k, v in generation.summary.items())
            )

        self.submit(
            "generate",
            lambda: self.adapter.generate(model, n, temperature, check, train, bond_t, known),
            done,
        )
