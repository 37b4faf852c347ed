"""Likelihood scores of the loaded collection: a ranking with its outliers coloured, the
per-point log-likelihood of the selected shape, and the model's invertibility checks."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel

from flowstudio.gui.pages.base import NO_MODEL
from flowstudio.gui.pages.scores_base import RankingPage
from flowstudio.gui.views_points import CloudView
from flowstudio.gui.widgets import controls_row
from flowstudio.workbench.scores import (
    DEFAULT_SCORE,
    SCORE_LABELS,
    WARNING,
    diagnose_model,
    diagnostics_text,
    rank_shapes,
)


class ScoresPage(RankingPage):
    action = "press Score to rank the loaded shapes"
    labels = SCORE_LABELS
    default_score = DEFAULT_SCORE
    warning = WARNING
    headers = ("rank", "shape", "score")
    check_tip = "Round trip x -> z -> x on data and samples, log|det J| against autograd, Lipschitz estimates"

    def __init__(self, workspace) -> None:
        super().__init__(workspace)
        self.button.setToolTip("Score every loaded shape under the model and rank them")
        self.view = CloudView(self, f"{NO_MODEL}\nThen press Score: the selected shape shows its log p(x).")
        self.lay_out(
            controls_row(QLabel("Rank by"), self.score, self.button, self.check_button),
            self.beside_table(self.view, (280, 620)),
            self.caption,
        )

    def refresh(self) -> None:
        shapes = self.workspace.shapes()
        if self.model is None or shapes is None:
            self.workspace.error("Scores need a trained model and loaded shapes.")
            return
        task, names = self.model.task, list(self.workspace.data.data.names)
        score = self.score.currentData()
        self.caption.setText(f"Scoring {min(len(shapes), 400)} shapes… {WARNING}")
        self.submit("scores", lambda: rank_shapes(task, shapes, names, score), self.show_ranking)

    def check(self) -> None:
        if self.model is None:
            self.workspace.error("The invertibility check needs a trained model.")
            return
        task, shapes = self.model.task, self.workspace.shapes()
        names = list(self.workspace.data.data.names) if shapes is not None else None
        self.caption.setText("Checking invertibility…")
        self.submit("diagnose", lambda: diagnose_model(task, shapes, names), self.show_diagnostics)

    def diagnostics_text(self, report: dict) -> str:
        return diagnostics_text(report)

    def can_rank_by(self, score: str) -> bool:
        if not self.result.defined(score):
            self.workspace.error(f"{SCORE_LABELS[score]} is not defined for this model.")
            return False
        return True

    def cells(self, index: int) -> list[str]:
        return [self.result.names[index], f"{self.result.value(index):.3f}"]

    def show_item(self, row: int, index: int) -> None:
        result = self.result
        tag = "outlier, " if result.outliers[index] else ""
        self.view.show_clouds(
            [result.clouds[index]], scalars=[result.point_ll[index]], scalar_title="log p(x)",
            title=f"{result.names[index]}: {tag}{SCORE_LABELS[result.score]} {result.value(index):.3f}",
            reset_camera=True,
        )
