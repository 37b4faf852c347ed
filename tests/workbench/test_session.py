"""The run state machine: its moves, what it refuses, its run folders and what events tell it."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowstudio.training.events import Checkpointed, Finished, Message, Progress, Samples
from flowstudio.workbench.session import (
    TRANSITIONS,
    InvalidTransitionError,
    RunSession,
    RunState,
    new_run_dir,
)

NOW = 1_700_000_000.0


@pytest.fixture
def session(tmp_path: Path) -> RunSession:
    return RunSession("points", lambda: tmp_path / "runs")


def _latest(run_dir: Path) -> Path:
    path = run_dir / "checkpoints" / "latest.pt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def test_a_run_goes_through_pause_resume_stop_and_ends(session: RunSession) -> None:
    seen: list[RunState] = []
    session.subscribe(seen.append)
    run_dir = session.start("cnf", now=NOW)
    session.pause()
    session.resume()
    session.stop()
    assert session.active and session.state.activity == "stopping"
    assert session.ended() is RunState.FINISHED
    assert seen == [
        RunState.TRAINING,
        RunState.PAUSED,
        RunState.TRAINING,
        RunState.STOPPING,
        RunState.FINISHED,
    ]
    assert not session.active and session.state.activity == "idle"
    assert run_dir.parent.name == "runs" and run_dir.name.startswith("points-cnf-")


@pytest.mark.parametrize(
    ("moves", "refused"),
    [
        ([], "pause"),
        ([], "resume"),
        ([], "stop"),
        (["start"], "start"),
        (["start"], "resume"),
        (["start", "pause"], "start"),
        (["start", "pause"], "pause"),
        (["start", "stop"], "stop"),
        (["start", "stop"], "pause"),
        (["start", "stop"], "resume"),
    ],
)
def test_moves_the_table_lacks_are_refused(session: RunSession, moves: list[str], refused: str) -> None:
    for move in moves:
        session.start("cnf", now=NOW) if move == "start" else getattr(session, move)()
    state = session.state
    with pytest.raises(InvalidTransitionError):
        session.start("cnf", now=NOW) if refused == "start" else getattr(session, refused)()
    assert session.state is state


def test_every_state_can_be_left_and_ends_are_restartable() -> None:
    assert all(TRANSITIONS[s] for s in RunState)
    for end in (RunState.FINISHED, RunState.FAILED):
        assert TRANSITIONS[end] == {RunState.TRAINING}
    assert [s for s in RunState if s.active] == [RunState.TRAINING, RunState.PAUSED, RunState.STOPPING]


def test_failure_or_an_error_finish_ends_failed(session: RunSession, tmp_path: Path) -> None:
    session.start("cnf", now=NOW)
    session.fail("RuntimeError: boom")
    assert session.ended() is RunState.FAILED
    session.start("cnf", now=NOW + 1)
    assert session.failure is None  # a new run forgets the old failure
    session.handle(Finished(step=3, reason="error", run_dir=tmp_path, error="nan"))
    assert session.ended() is RunState.FAILED
    session.start("cnf", now=NOW + 2)
    session.handle(Finished(step=3, reason="stopped", run_dir=tmp_path))
    assert session.ended() is RunState.FINISHED


def test_events_are_remembered(session: RunSession, tmp_path: Path) -> None:
    session.start("cnf", now=NOW)
    progress = Progress(5, 10, 1.0, 1.0, 5.0, {"loss": 1.0}, 1e-3)
    assert session.handle(progress) == "progress" and session.last_progress is progress
    assert session.handle(Samples(5, "points")) == "samples"
    assert session.handle(Samples(6, "points")) == "samples" and session.samples_received == 2
    ckpt = tmp_path / "x.pt"
    assert session.handle(Checkpointed(6, ckpt, best=False)) == "checkpoint"
    assert session.latest_checkpoint == ckpt
    assert session.handle(Message("hello")) is None
    session.stop()
    session.ended()
    session.start("cnf", now=NOW + 1)
    assert (
        session.last_progress is None and session.samples_received == 0 and session.latest_checkpoint is None
    )


def test_run_folders_follow_the_engines_layout(session: RunSession, tmp_path: Path) -> None:
    first = session.start("cnf", now=NOW)
    assert not session.resumable  # no checkpoint yet
    session.stop()
    session.ended()
    _latest(first)
    assert session.resumable and session.best_checkpoint() == first / "checkpoints" / "latest.pt"
    best = first / "checkpoints" / "best.pt"
    best.write_bytes(b"x")
    assert session.best_checkpoint() == best

    assert session.start("cnf", resume=True, now=NOW + 5) == first and session.resumed
    session.stop()
    session.ended()
    second = session.start("cnf", resume=False, now=NOW + 5)
    assert second != first and not session.resumed
    session.forget_run()  # refused while a run is going: it keeps its folder
    assert session.run_dir == second
    session.stop()
    session.ended()
    session.forget_run()
    assert session.run_dir is None and not session.resumable


def test_a_clashing_run_name_gets_a_suffix(tmp_path: Path) -> None:
    first = new_run_dir(tmp_path, "molecules", "GraphAF", NOW)
    first.mkdir()
    second = new_run_dir(tmp_path, "molecules", "GraphAF", NOW)
    second.mkdir()
    third = new_run_dir(tmp_path, "molecules", "GraphAF", NOW)
    assert second.name == first.name + "~2" and third.name == first.name + "~3"
