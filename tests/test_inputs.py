"""What every reader shares (flowstudio.inputs): refusing what is not a regular file, and
the report of skipped records."""

from __future__ import annotations

import os

import pytest

from flowstudio.errors import BadInputError
from flowstudio.inputs import MAX_REASONS_KEPT, SkipReport, require_regular_file


def test_only_regular_files_pass(tmp_path):
    (tmp_path / "a.smi").write_text("CCO\n")
    assert require_regular_file(tmp_path / "a.smi") == tmp_path / "a.smi"
    os.mkfifo(tmp_path / "fifo.txt")
    for path, problem in [(tmp_path / "fifo.txt", "named pipe"), ("/dev/null", "a device"),
                          (tmp_path, "is a folder"), (tmp_path / "missing.smi", "no such file")]:
        with pytest.raises(BadInputError, match=problem) as info:
            require_regular_file(path)
        assert str(path) in str(info.value)


def test_a_report_counts_everything_and_keeps_the_first_reasons():
    report = SkipReport()
    assert not report and report.summary() == "0 skipped"
    for i in range(MAX_REASONS_KEPT + 5):
        report.add(f"line {i + 1}", "syntax error")
    other = SkipReport()
    other.add("record 2", "bad mol block")
    report.extend(other)
    assert report.count == MAX_REASONS_KEPT + 6 and len(report.reasons) == MAX_REASONS_KEPT
    assert report.summary().startswith(f"{MAX_REASONS_KEPT + 6} skipped (first: line 1: syntax error; line 2")
    assert report.to_json() == {"count": report.count, "first_reasons": report.reasons}
    report.refuse_if_strict("x.smi", strict=False)
    with pytest.raises(BadInputError, match=r"x\.smi: 26 bad records \(--strict"):
        report.refuse_if_strict("x.smi", strict=True)
