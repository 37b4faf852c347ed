"""Opening a named pipe in the window must not freeze it (issue 18): routing never opens a
pipe, and the reader it routes to refuses it with its reason."""

from __future__ import annotations

import os
import threading

import pytest

from flowstudio.errors import BadInputError
from flowstudio.molecules.io import read_molecules
from flowstudio.workbench.routing import file_kind


def test_a_fifo_named_txt_is_routed_without_being_opened_and_refused(tmp_path):
    fifo = tmp_path / "fifo.txt"
    os.mkfifo(fifo)
    result: list[str] = []
    worker = threading.Thread(target=lambda: result.append(file_kind(fifo)), daemon=True)
    worker.start()
    worker.join(timeout=30)  # a hang detector, not a timing: reading a FIFO blocks forever
    try:
        assert result == ["molecules"], "file_kind blocked on the pipe"
    finally:
        if worker.is_alive():  # unblock the reader so the test process can end
            with open(fifo, "w"):
                pass
    with pytest.raises(BadInputError, match="named pipe"):
        read_molecules(fifo)
