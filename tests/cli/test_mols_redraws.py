"""``mols sample`` reports the redraws that generation counted (the samples file's comment
lines and its sentence), and ``mols eval`` passes the file's shares on, on the demo model
(its run draws again for every reason but the unseen ring systems, which ``--known-ring-systems``
turns on)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flowstudio.cli import main
from flowstudio.cli.mols import load_task
from flowstudio.molecules.generate import generate
from flowstudio.molecules.redraws import REDRAW_REASONS

DEMO = Path(__file__).resolve().parents[2] / "samples" / "models" / "molecules-graphaf"
N, SEED, TEMPERATURE = 48, 3, 1.1


def _comments(path: Path) -> dict[str, str]:
    lines = [line[2:] for line in path.read_text().splitlines() if line.startswith("# ")]
    return dict(line.split(": ", 1) for line in lines)


@pytest.mark.parametrize("check", [True, False])
def test_the_samples_file_and_sentence_report_what_generate_counted(
    check: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "samples.smi"
    argv = ["mols", "sample", "--run", str(DEMO), "--n", str(N), "--seed", str(SEED), "--device", "cpu"]
    argv += ["--temperature", str(TEMPERATURE), "--out", str(out), *([] if check else ["--no-check"])]
    assert main([*argv, "--known-ring-systems"]) == 0
    sentence = capsys.readouterr().err
    task = load_task(DEMO)
    task.model.redraw_unseen_rings = True
    result = generate(
        task.model, N, temperature=TEMPERATURE, check=check, max_retries=task.values["max_retries"], seed=SEED
    )
    assert all(reason.wanted(task.model) for reason in REDRAW_REASONS)  # the run and the flag ask for each
    assert result.redraws_on == (set(REDRAW_REASONS) if check else set())
    if check:
        assert all(result.redrawn.values())  # so that each comparison below has something to compare
    listed = _comments(out)
    # every reason the run asks for has its line, also without the check (0 there)
    assert list(listed)[1:] == [reason.key for reason in REDRAW_REASONS]
    for reason in REDRAW_REASONS:
        share = result.redrawn[reason] / N
        assert listed[reason.key] == f"{share:.4f}"
        assert (f"; {share:.1%} {reason.phrase}" in sentence) == (result.redrawn[reason] > 0)

    train = tmp_path / "train.smi"
    train.write_text("CCO\nc1ccccc1\nCC(=O)Nc1ccc(O)cc1\n")
    argv = ["mols", "eval", "--samples", str(out), "--train", str(train), "--no-fcd", "--device", "cpu"]
    assert main(argv) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert [key for key in metrics if key.endswith("_redrawn")] == [reason.key for reason in REDRAW_REASONS]
    assert all(metrics[reason.key] == float(listed[reason.key]) for reason in REDRAW_REASONS)


def test_a_samples_file_lists_only_the_redraws_its_run_asks_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A share of 0 for a redraw the run never does would read as "none was needed"."""
    import flowstudio.cli.mols as mols_cli

    task = load_task(DEMO)
    task.model.redraw_cut = task.model.redraw_bondless = False  # as a run from before these settings
    task.model.redraw_hypervalent = False
    monkeypatch.setattr(mols_cli, "load_task", lambda *args, **kwargs: task)
    out = tmp_path / "samples.csv"
    assert main(["mols", "sample", "--run", str(DEMO), "--n", "8", "--seed", "0", "--out", str(out)]) == 0
    listed = _comments(out)
    assert list(listed) == ["valid_without_check", "ring_types_redrawn"]


def test_known_ring_systems_turns_the_redraw_on_and_off_and_needs_the_runs_kinds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import flowstudio.cli.mols as mols_cli
    from flowstudio.molecules.redraws import UNSEEN_RING_SYSTEM

    task = load_task(DEMO)
    monkeypatch.setattr(mols_cli, "load_task", lambda *args, **kwargs: task)
    out = tmp_path / "samples.smi"
    argv = ["mols", "sample", "--run", str(DEMO), "--n", "8", "--seed", "0", "--out", str(out)]
    assert main([*argv, "--known-ring-systems"]) == 0 and UNSEEN_RING_SYSTEM.key in _comments(out)
    assert main([*argv, "--no-known-ring-systems"]) == 0 and UNSEEN_RING_SYSTEM.key not in _comments(out)
    task.model.ring_systems = None  # as a run from before the kinds were kept
    capsys.readouterr()
    assert main([*argv, "--known-ring-systems"]) == 2
    assert "does not record its training molecules' ring systems" in capsys.readouterr().err
