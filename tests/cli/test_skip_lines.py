"""The eval commands say what their readers skipped in the reference data (issue 18)."""

from __future__ import annotations

import numpy as np

from flowstudio.cli import main


def test_mols_eval_reports_skipped_reference_molecules(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "samples.smi").write_text("CCO\nCCN\nc1ccccc1\n")
    (tmp_path / "train.smi").write_text("CCO\nC1CC\nCCCC\nZZ\nCC(=O)O\nCCOC\n")
    code = main(["mols", "eval", "--samples", "samples.smi", "--train", "train.smi", "--no-fcd",
                 "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 0
    assert "flowstudio: --train train.smi: 2 skipped (first: line 2: SMILES unclosed ring" in err


def test_points_eval_reports_skipped_shapes_in_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shapes = np.random.default_rng(0).normal(size=(4, 64, 3)).astype(np.float32)
    np.savez(tmp_path / "samples.npz", points=shapes[:2])
    shapes[[1, 3], 0, 0] = np.nan
    np.savez(tmp_path / "ref.npz", points=shapes)
    code = main(["points", "eval", "--samples", "samples.npz", "--ref", "ref.npz", "--points", "64",
                 "--emd-points", "0", "--device", "cpu"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 0
    assert err == ["flowstudio: --ref ref.npz: 2 skipped (first: ref[1]: NaN or infinite coordinates; "
                   "ref[3]: NaN or infinite coordinates)"]
