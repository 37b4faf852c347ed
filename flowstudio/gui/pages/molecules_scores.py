"""Likelihood scores of molecules: the loaded set (or another file) ranked by a GraphAF
score with its outliers marked and drawn, and the model's invertibility check."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QLabel, QPushButton

from flowstudio.gui.pages.base import NO_MODEL
from flowstudio.gui.pages.job_progress import JobProgress
from flowstudio.gui.pages.scores_base import RankingPage
from flowstudio.gui.views_molecules import MoleculeGrid
from flowstudio.gui.widgets import controls_row
from flowstudio.workbench.molecule_scores import (
    DEFAULT_SCORE,
    SCORE_LABELS,
    WARNING,
    RankedMolecules,
    diagnose_model,
    diagnostics_text,
    rank_file,
    rank_molecules,
)

TILES = 24
"""Molecules drawn at once: from the selected rank on."""


class MoleculeScoresPage(RankingPage):
    action = "press Score to rank the loaded molecules"
    labels = SCORE_LABELS
    default_score = DEFAULT_SCORE
    warning = WARNING
    headers = ("rank", "score", "atoms", "molecule")  # the long names last, where the table stretches
    check_tip = (
        "Round trip of every node and edge step, log|det J| against autograd, Lipschitz estimates, "
        "and each molecule encoded and decoded back"
    )

    def __init__(self, workspace) -> None:
        super().__init__(workspace)
        self.button.setToolTip("Score the loaded molecules under the model and rank them")
        self.file_button = QPushButton("Score a file…", self)
        self.file_button.setToolTip("Score the molecules of another file (SMILES, CSV, SDF) under the model")
        self.file_button.clicked.connect(self._choose_file)
        self.progress = JobProgress(self, lambda: self.workspace.jobs.busy, self._finished)
        self.grid = MoleculeGrid(self, max_shown=TILES, placeholder=f"{NO_MODEL}\nThen press Score.")
        self.grid.activated.connect(self._select_tile)
        self.first_shown: int | None = None  # the rank of the first tile drawn
        self.lay_out(
            controls_row(
                QLabel("Rank by"), self.score, self.button, self.file_button, self.check_button, self.progress
            ),
            self.beside_table(self.grid, (330, 620)),
            self.caption,
        )

    # ------------------------------------------------------------------ scoring
    def refresh(self) -> None:
        data = self.workspace.data
        if self.model is None or data is None:
            self.workspace.error("Scores need a trained model and loaded molecules.")
            return
        molecules = data.data["set"]
        source = Path(molecules.source).name or "the loaded set"
        model, score = self.model.task.model, self.score.currentData()
        self._run(lambda box: rank_molecules(model, molecules.smiles, molecules.names, source, score, box))

    def score_file(self, path: str | Path) -> None:
        """Read a molecule file on the job thread and rank its molecules."""
        if self.model is None:
            self.workspace.error("Scores need a trained model: train one or open a checkpoint.")
            return
        model, score = self.model.task.model, self.score.currentData()
        self._run(lambda box: rank_file(model, path, score, box))

    def _choose_file(self) -> None:
        filters = self.adapter.open_filters()
        path, _ = QFileDialog.getOpenFileName(self, "Score the molecules of a file", "", ";;".join(filters))
        if path:
            self.score_file(path)

    def _run(self, work) -> None:
        box = self.progress.start()

        def done(result: RankedMolecules) -> None:
            if box is self.progress.box:
                self.progress.finish()
                self.show_ranking(result)

        self.caption.setText(f"Scoring… {WARNING}")
        self.submit("molecule-scores", lambda: work(box), done)
        self.button.setEnabled(False)
        self.file_button.setEnabled(False)

    def _finished(self) -> None:
        self.button.setEnabled(True)
        self.file_button.setEnabled(True)

    # ------------------------------------------------------------------ invertibility
    def check(self) -> None:
        data = self.workspace.data
        if self.model is None:
            self.workspace.error("The invertibility check needs a trained model.")
            return
        model = self.model.task.model
        smiles, names = (list(data.data["set"].smiles), list(data.data["set"].names)) if data else ([], [])
        self.caption.setText("Checking invertibility…")
        self.submit("molecule-diagnose", lambda: diagnose_model(model, smiles, names), self.show_diagnostics)

    def diagnostics_text(self, report: dict) -> str:
        return diagnostics_text(report)

    # ------------------------------------------------------------------ the ranking
    def show_ranking(self, result: RankedMolecules) -> None:
        self.first_shown = None
        super().show_ranking(result)

    def cells(self, index: int) -> list[str]:
        result = self.result
        return [f"{result.value(index):.3f}", str(int(result.atoms[index])), result.label(index)]

    def outlier_tip(self, index: int) -> str:
        return self.result.reasons[index] or super().outlier_tip(index)

    def show_item(self, row: int, index: int) -> None:
        first = self.first_shown
        if first is None or not first <= row < first + TILES:
            first = self.first_shown = row
            self.grid.set_entries(self.result.entries(row, TILES))
        self.grid.set_selection({row - first: "selected"})
        self.workspace.selected_smiles = self.result.smiles[index]

    def _select_tile(self, tile: int) -> None:
        if self.first_shown is not None:
            self.table.selectRow(self.first_shown + tile)
