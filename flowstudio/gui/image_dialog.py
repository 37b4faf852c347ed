"""An exported PNG opened in the window (File > Open…, or dropped on it): the picture, and
the run, model, step, temperature and seed it was drawn from (its ``flowstudio.*`` text
chunks, read by :func:`~flowstudio.workbench.provenance.read_provenance`), as opening an
exported PLY or SDF shows them in the data panel."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QScrollArea, QVBoxLayout, QWidget

from flowstudio.errors import BadInputError
from flowstudio.workbench.provenance import read_provenance

NO_PROVENANCE = "No FlowStudio provenance: not a screenshot FlowStudio saved of a model's samples."


class ImageDialog(QDialog):
    """A PNG with its provenance line above it (non-modal: the window stays usable)."""

    def __init__(self, path: str | Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        path = Path(path)
        pixmap = QPixmap(str(path))
        if pixmap.isNull():
            raise BadInputError(f"{path}: not a PNG image that can be read")
        self.setWindowTitle(f"{path.name} — FlowStudio")
        self.provenance = read_provenance(path)
        layout = QVBoxLayout(self)
        self.origin = QLabel(
            f"From {self.provenance.text()}" if self.provenance is not None else NO_PROVENANCE, self
        )
        self.origin.setObjectName("ImageProvenance")
        self.origin.setWordWrap(True)
        self.origin.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.origin.setToolTip(str(path))
        layout.addWidget(self.origin)
        picture = QLabel(self)
        picture.setPixmap(pixmap)
        scroll = QScrollArea(self)
        scroll.setWidget(picture)
        scroll.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(scroll, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.close)
        layout.addWidget(buttons)
        screen = self.screen().availableGeometry() if self.screen() else None
        width, height = pixmap.width() + 40, pixmap.height() + 110
        if screen is not None:
            width, height = min(width, int(screen.width() * 0.9)), min(height, int(screen.height() * 0.9))
        self.resize(max(width, 420), max(height, 240))
