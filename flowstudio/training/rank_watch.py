"""Which rank broke a distributed run, and a bound on how long the others wait for it.

When one rank of a data-parallel run fails (an exception, ``kill -9``, a full disk) or
hangs, the others learn it only as a broken collective: gloo says "Connection closed by
peer" or "Timed out waiting 600000ms", NCCL its own error, and none of them says which
rank or why. :class:`RankWatch` keeps a little shared state in the key-value store that
torchrun already runs for the rendezvous (``MASTER_ADDR:MASTER_PORT``; torchrun's agent
hosts it, so it outlives any rank):

* ``pid/R``: rank R's process id and host, written once when it joins;
* ``step/R``: the step rank R is on, written at every step;
* ``failed/R``: the step and the one-line reason, written by a rank whose run fails.

A rank whose collective broke reads them (:meth:`RankWatch.explain`) and names the rank
that failed (its reason), that died (its process is gone: ``kill -9``, the OOM killer), or
that did not answer within the process group's timeout (hung or far too slow).

A rank whose torchrun agent was killed (``kill -9`` of torchrun alone) lives on as an
orphan in a session of its own; :meth:`RankWatch.orphaned` makes the ranks agree to stop
after the step, with a checkpoint, instead of training unwatched with the run folder locked.

A rank stuck outside any collective (in a data loader, a sleep, a deadlock that releases
Python's GIL) never sees the error. torchrun sends it ``SIGTERM`` once a peer exits, which
the CLI turns into "stop after this step", a step it never reaches; torchrun's ``SIGKILL``
follows only 30 s later, and on another node nothing may follow at all. So each rank runs
a watch thread: once another rank has posted ``failed/R`` and this rank has not ended
within ``grace_s`` (the process group's timeout), the thread prints one line naming both
ranks and ends the process (``os._exit``; exit code 1). A rank that writes nothing loses
nothing by it; rank 0 kept its last good checkpoint on disk.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import torch.distributed as dist

EXIT_LOST_PEER = 1
POLL_S = 0.5
STORE_TIMEOUT_S = 5.0


GLOO_FAILURES = ("gloo", "pair closure", "Connection closed by peer", "Connection reset by peer",
                 "Timed out waiting")
"""Words of the plain ``RuntimeError`` gloo raises for a broken collective: its source path
(``third_party/gloo/...``), or, for a timeout, "Application timeout caused pair closure"."""


def is_collective_failure(exc: BaseException) -> bool:
    """Whether ``exc`` is a broken collective (a peer gone or late), not this rank's own
    failure: c10d's ``DistError`` family (NCCL, the store, the network), or gloo's
    ``RuntimeError`` (see :data:`GLOO_FAILURES`)."""
    text = str(exc)
    return isinstance(exc, dist.DistError) or (
        isinstance(exc, RuntimeError) and any(words in text for words in GLOO_FAILURES)
    )


class RankWatch:
    """This rank's link to the others' state in torchrun's store (see the module doc)."""

    def __init__(self, rank: int, size: int, grace_s: float) -> None:
        self.rank, self.size, self.grace_s = rank, size, grace_s
        restart = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")
        self.prefix = f"flowstudio/{os.environ.get('TORCHELASTIC_RUN_ID', 'run')}/{restart}"
        self._stores = [self._connect(), self._connect()]  # the caller's and the watch thread's
        # torchrun's agent is this rank's parent; if it is killed the ranks live on, orphans
        self.launcher = os.getppid() if os.environ.get("TORCHELASTIC_RUN_ID") else None
        self._told_orphaned = False
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    @staticmethod
    def _connect() -> dist.TCPStore | None:
        host, port = os.environ.get("MASTER_ADDR"), os.environ.get("MASTER_PORT")
        if not host or not port:
            return None
        try:
            return dist.TCPStore(host, int(port), is_master=False,
                                 timeout=timedelta(seconds=STORE_TIMEOUT_S))
        except (RuntimeError, ValueError):  # no store there: the watch stays silent
            return None

    def _key(self, what: str, rank: int) -> str:
        return f"{self.prefix}/{what}/{rank}"

    def _set(self, what: str, value: str) -> None:
        store = self._stores[0]
        if store is not None:
            with contextlib.suppress(RuntimeError):  # the store is gone: so are the others
                store.set(self._key(what, self.rank), value)

    def _read(self, store: dist.TCPStore | None, what: str, rank: int) -> str | None:
        if store is None:
            return None
        key = self._key(what, rank)
        try:
            return store.get(key).decode() if store.check([key]) else None
        except RuntimeError:
            return None

    # -- what this rank tells the others ------------------------------------------------
    def start(self) -> RankWatch:
        """Post this process's id and start the watch thread."""
        self._set("pid", f"{os.getpid()} {socket.gethostname()}")
        self._thread = threading.Thread(target=self._watch, name="FlowStudioRankWatch", daemon=True)
        self._thread.start()
        return self

    def beat(self, step: int) -> None:
        """This rank is at ``step``."""
        self._set("step", str(step))

    def failed(self, step: int | None, reason: str) -> None:
        """This rank's run failed at ``step`` (``None``: not known) for ``reason``."""
        where = "" if step is None else f"at step {step}: "
        self._set("failed", where + " ".join(reason.split())[:400])

    def orphaned(self) -> bool:
        """torchrun's agent is gone (``kill -9`` of torchrun alone): the ranks should stop,
        with a checkpoint, rather than train on unwatched and keep the run folder locked.
        The first time, it says so on stderr."""
        if self.launcher is None or os.getppid() == self.launcher:
            return False
        if not self._told_orphaned:
            self._told_orphaned = True
            sys.stderr.write(f"flowstudio: rank {self.rank}: torchrun (process {self.launcher}) is gone; "
                             "stopping after this step and saving a checkpoint\n")
            sys.stderr.flush()
        return True

    def close(self) -> None:
        """This rank's run is over (normally or not): the watch thread stops, and is joined,
        so that it is not inside a store call while the interpreter shuts down."""
        self._done.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=STORE_TIMEOUT_S)

    # -- what this rank learns of the others ----------------------------------------------
    def peer_failures(self, store: dist.TCPStore | None = None) -> dict[int, str]:
        """The other ranks that posted a failure: ``{rank: "at step S: reason"}``."""
        store = store or self._stores[0]
        found = {}
        for rank in range(self.size):
            text = self._read(store, "failed", rank) if rank != self.rank else None
            if text is not None:
                found[rank] = text
        return found

    def explain(self, step: int) -> str:
        """Why a collective broke at ``step``: each other rank that failed, died or did not
        answer. Waits up to a second for a failing peer to post its reason."""
        deadline = time.monotonic() + 1.0
        failures = self.peer_failures()
        while not failures and time.monotonic() < deadline:
            time.sleep(0.1)
            failures = self.peer_failures()
        if self._stores[0] is None:
            return f"rank {self.rank}: lost contact with the other ranks at step {step}"
        parts = [_failed(r, why) for r, why in sorted(failures.items())]
        for rank in range(self.size):
            if rank == self.rank or rank in failures:
                continue
            pid_host = self._read(self._stores[0], "pid", rank)
            at = self._read(self._stores[0], "step", rank)
            where = f"at step {at}" if at is not None else "before its first step"
            if pid_host is None:
                parts.append(f"rank {rank} is unreachable {where}")
            elif _process_gone(pid_host):
                pid = pid_host.split()[0]
                parts.append(f"rank {rank} died {where} (process {pid} is gone: killed or crashed)")
            else:
                parts.append(f"rank {rank} did not answer within the {self.grace_s:g} s timeout {where} "
                             "(stuck or far too slow; FLOWSTUDIO_DIST_TIMEOUT_S sets the timeout)")
        return f"rank {self.rank} stopped at step {step}: " + "; ".join(parts)

    def _watch(self) -> None:
        """Ends this process ``grace_s`` after another rank posted a failure, unless this
        rank's run ended first (it is stuck where no collective can fail)."""
        store = self._stores[1]
        while not self._done.wait(POLL_S):
            if self.orphaned():  # its store went with it: nothing more to read there
                return
            failures = self.peer_failures(store)
            if failures:
                if self._done.wait(self.grace_s):
                    return
                rank, why = min(failures.items())
                sys.stderr.write(
                    f"flowstudio: error: rank {self.rank}: {_failed(rank, why)}; this rank did not stop "
                    f"within {self.grace_s:g} s (stuck outside the collectives), so it ends now\n"
                )
                sys.stderr.flush()
                os._exit(EXIT_LOST_PEER)


def _failed(rank: int, why: str) -> str:
    return f"rank {rank} failed {why}" if why.startswith("at step") else f"rank {rank} failed: {why}"


def _process_gone(pid_host: str) -> bool:
    """Whether the process ``"PID HOST"`` is gone; ``False`` when it runs on another host
    (it cannot be checked from here)."""
    pid, _, host = pid_host.partition(" ")
    if host != socket.gethostname():
        return False
    try:
        stat = Path(f"/proc/{int(pid)}/stat").read_text()
    except FileNotFoundError:
        return True
    except (OSError, ValueError):  # no /proc (not Linux): ask the kernel instead
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
        except (PermissionError, ValueError):
            return False
        return False
    return stat.rpartition(")")[2].split()[:1] == ["Z"]  # killed, not yet reaped by torchrun
