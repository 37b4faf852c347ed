"""Molecule views: RDKit depictions in a grid, a 3-D conformer view and a metrics table.

RDKit's pip wheels lack ``Draw.MolToQPixmap``, so depictions are drawn by
``MolDraw2DCairo`` into PNG bytes and loaded into a :class:`QPixmap` (cached per SMILES).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPixmap
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHeaderView,
    QLabel,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from flowstudio.gui.views_points import VtkView
from flowstudio.workbench.data import MoleculeEntry

CARD_SIZE = QSize(200, 150)


@lru_cache(maxsize=2048)
def depiction_png(smiles: str, width: int, height: int, highlight: bool = False) -> bytes:
    """A PNG depiction of ``smiles`` (empty bytes when it does not parse)."""
    from rdkit import Chem
    from rdkit.Chem.Draw import rdMolDraw2D

    mol = Chem.MolFromSmiles(smiles) if smiles else None
    if mol is None:
        return b""
    drawer = rdMolDraw2D.MolDraw2DCairo(width, height)
    options = drawer.drawOptions()
    options.clearBackground = True
    options.setBackgroundColour((1, 1, 1, 1))
    options.padding = 0.08
    options.fixedBondLength = 26  # small molecules keep a readable scale instead of filling the tile
    options.maxFontSize = 20
    options.bondLineWidth = 1.6
    options.addStereoAnnotation = False
    if highlight:
        options.setBackgroundColour((0.93, 0.96, 1.0, 1))
    rdMolDraw2D.PrepareAndDrawMolecule(drawer, mol)
    drawer.FinishDrawing()
    return drawer.GetDrawingText()


def depiction(smiles: str | None, size: QSize = CARD_SIZE) -> QPixmap:
    """The depiction as a pixmap; a grey 'invalid' tile when ``smiles`` does not parse."""
    pixmap = QPixmap()
    data = depiction_png(smiles or "", size.width(), size.height())
    if data and pixmap.loadFromData(data, "PNG"):
        return pixmap
    pixmap = QPixmap(size)
    pixmap.fill(QColor("#e6e8eb"))
    painter = QPainter(pixmap)
    painter.setPen(QColor("#8b1a1a"))
    painter.drawText(pixmap.rect(), Qt.AlignmentFlag.AlignCenter, "invalid molecule")
    painter.end()
    return pixmap


def format_properties(props: dict[str, float]) -> str:
    """Two short lines: drug-likeness and lipophilicity, then synthetic accessibility and mass."""

    def part(key: str) -> str:
        return f"MW {props[key]:.0f}" if key == "MW" else f"{key} {props[key]:.2f}"

    lines = [" · ".join(part(k) for k in keys if k in props) for keys in (("QED", "logP"), ("SA", "MW"))]
    return "\n".join(line for line in lines if line)


class MoleculeCard(QFrame):
    clicked = Signal(int)

    def __init__(self, index: int, entry: MoleculeEntry, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.index = index
        self.entry = entry
        self.setObjectName("MoleculeCard")
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(2)
        picture = QLabel(self)
        picture.setPixmap(depiction(entry.smiles))
        picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(picture)
        title = entry.title or (entry.smiles or "invalid")
        smiles = QLabel(self)
        smiles.setObjectName("CardSmiles")
        smiles.setText(
            smiles.fontMetrics().elidedText(title, Qt.TextElideMode.ElideMiddle, CARD_SIZE.width())
        )
        smiles.setToolTip(entry.smiles or "the decoder produced no valid molecule")
        smiles.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(smiles)
        detail = format_properties(entry.properties)
        if entry.badges:
            detail = (detail + "\n" if detail else "") + " ".join(f"[{b}]" for b in entry.badges)
        props = QLabel(detail or " ", self)
        props.setObjectName("CardProps")
        layout.addWidget(props)
        self.setFixedWidth(CARD_SIZE.width() + 10)
        self.set_selected("")

    def set_selected(self, tag: str) -> None:
        self.setProperty("selectedTag", tag)
        self.setToolTip(f"selected as {tag}" if tag else "click to select")
        self.style().unpolish(self)
        self.style().polish(self)

    def mousePressEvent(self, event) -> None:
        self.clicked.emit(self.index)


class MoleculeGrid(QScrollArea):
    """A reflowing grid of depiction cards; clicking one emits :attr:`activated`."""

    activated = Signal(int)

    def __init__(
        self, parent: QWidget | None = None, max_shown: int = 60, placeholder: str = "No molecules yet."
    ) -> None:
        super().__init__(parent)
        self.setObjectName("MoleculeGrid")
        self.setWidgetResizable(True)
        self.max_shown = max_shown
        self._inner = QWidget(self)
        self._inner.setObjectName("MoleculeGridInner")
        self._grid = QGridLayout(self._inner)
        self._grid.setSpacing(8)
        self._grid.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.setWidget(self._inner)
        self.cards: list[MoleculeCard] = []
        self.entries: list[MoleculeEntry] = []
        self._columns = 0
        self._placeholder = QLabel(placeholder, self._inner)
        self._placeholder.setObjectName("ViewPlaceholder")
        self._grid.addWidget(self._placeholder, 0, 0)

    def set_entries(self, entries: list[MoleculeEntry]) -> None:
        for card in self.cards:
            card.setParent(None)
            card.deleteLater()
        self.entries = list(entries)
        self.cards = []
        self._placeholder.setVisible(not entries)
        for i, entry in enumerate(self.entries[: self.max_shown]):
            card = MoleculeCard(i, entry, self._inner)
            card.clicked.connect(self.activated)
            self.cards.append(card)
        self._columns = 0
        self._reflow()

    def set_placeholder_text(self, text: str) -> None:
        """The text shown while the grid is empty."""
        self._placeholder.setText(text)

    @property
    def placeholder_text(self) -> str:
        return self._placeholder.text()

    def set_selection(self, tags: dict[int, str]) -> None:
        for card in self.cards:
            card.set_selected(tags.get(card.index, ""))

    def _reflow(self) -> None:
        columns = max(1, (self.viewport().width() - 8) // (CARD_SIZE.width() + 18))
        if columns == self._columns:
            return
        self._columns = columns
        for i, card in enumerate(self.cards):
            self._grid.addWidget(card, *divmod(i, columns))

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._reflow()


class MetricsTable(QTableWidget):
    """Metric names, values and what each measures."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, 3, parent)
        self.setObjectName("MetricsTable")
        self.setHorizontalHeaderLabels(["Metric", "Value", "What it measures"])
        header = self.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.verticalHeader().setVisible(False)
        self.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.setAlternatingRowColors(True)

    def set_metrics(
        self, metrics: dict[str, float | int | str | None], tips: dict[str, str] | None = None
    ) -> None:
        self.setRowCount(len(metrics))
        for row, (name, value) in enumerate(metrics.items()):
            self.setItem(row, 0, QTableWidgetItem(name))
            if isinstance(value, float):
                text = "n/a" if not math.isfinite(value) else f"{value:.4g}"
            else:
                text = "n/a" if value is None else str(value)
            cell = QTableWidgetItem(text)
            cell.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.setItem(row, 1, cell)
            meaning = QTableWidgetItem((tips or {}).get(name, ""))
            meaning.setToolTip(meaning.text())
            self.setItem(row, 2, meaning)


# --- 3-D conformer ------------------------------------------------------------------------

CPK = {
    "H": "#f0f0f0",
    "C": "#909090",
    "N": "#3050f8",
    "O": "#ff0d0d",
    "F": "#90e050",
    "Cl": "#1ff01f",
    "Br": "#a62929",
    "I": "#940094",
    "S": "#ffff30",
    "P": "#ff8000",
    "B": "#ffb5b5",
    "Si": "#f0c8a0",
}
RADIUS = {"H": 0.25}


class Molecule3DView(VtkView):
    """Ball-and-stick view of one conformer: element-colored spheres, bonds as tubes."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, "Click a molecule to see a 3-D conformer (RDKit ETKDG).")
        self.smiles: str | None = None

    def show_conformer(
        self, smiles: str, elements: list[str], coords: np.ndarray, bonds: list[tuple[int, int, int]]
    ) -> None:
        if self.defer(self.show_conformer, smiles, elements, coords, bonds):
            return
        import pyvista as pv

        plotter = self.ensure_plotter()
        if not self.draw_count:
            plotter.enable_anti_aliasing("fxaa")  # one cheap pass; this view redraws rarely
        plotter.clear()
        coords = np.asarray(coords, dtype=float)
        for element in sorted(set(elements)):
            idx = [i for i, e in enumerate(elements) if e == element]
            cloud = pv.PolyData(coords[idx])
            sphere = pv.Sphere(radius=RADIUS.get(element, 0.38), theta_resolution=20, phi_resolution=20)
            glyphs = cloud.glyph(geom=sphere, scale=False, orient=False)
            plotter.add_mesh(
                glyphs, color=CPK.get(element, "#ff1493"), smooth_shading=True, specular=0.4, label=element
            )
        tubes = []
        for i, j, order in bonds:
            a, b = coords[i], coords[j]
            axis = b - a
            normal = np.cross(axis, [0, 0, 1.0])
            if np.linalg.norm(normal) < 1e-6:
                normal = np.cross(axis, [0, 1.0, 0])
            normal = normal / np.linalg.norm(normal) * 0.09
            offsets = (
                [0.0]
                if order <= 1 or "H" in (elements[i], elements[j])
                else ([-1.0, 1.0] if order == 2 else [-1.5, 0.0, 1.5])
            )
            for k in offsets:
                tubes.append(
                    pv.Line(a + k * normal, b + k * normal).tube(
                        radius=0.07 if len(offsets) > 1 else 0.1, n_sides=12
                    )
                )
        if tubes:
            plotter.add_mesh(pv.merge(tubes), color="#b0b6be", smooth_shading=True)
        plotter.add_text(smiles, font_size=10, color="#c9d1d9", position="upper_left")
        plotter.add_legend(
            bcolor=None, face="circle", size=(0.08, 0.035 * len(set(elements))), loc="lower right"
        )
        plotter.reset_camera(render=False)
        plotter.camera.zoom(1.5)  # the bounding sphere leaves much room around a molecule
        plotter.render()
        self.smiles = smiles
        self.draw_count += 1
