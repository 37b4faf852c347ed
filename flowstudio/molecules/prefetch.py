"""Pack the next GraphAF training batch in a worker process while the model trains on this one.

GraphAF trains on one intra-op thread on the CPU (``MoleculeTask.cpu_threads``), and packing
a batch (random BFS orders, ring and conjugation features, the R-GCN's CSR operators: numpy
and Python, :mod:`flowstudio.molecules.packing`) took about a fifth of each step on that
thread, while the second core waited. A worker process (a thread would hold the GIL through
the packing's many small Python steps) packs batch ``k + 1`` during step ``k``.

Exactly the same batches as without the worker, in the same order: a batch is drawn from
numpy's global generator (the one checkpoints keep), so the trainer sends the worker the
generator's *state* after batch ``k``; the worker draws batch ``k + 1`` from a generator in
that state with the same code (:func:`draw_batch`) and returns the batch and the state after
it. The trainer uses the batch only when the global generator is still in the state it sent
(nothing else drew from it in between), and then moves the global generator to the
returned state, exactly where drawing the batch itself would have left it. Otherwise it
draws the batch itself (a stale batch is dropped). A checkpoint therefore holds the same
generator state with or without the worker, and a resumed run continues exactly.

The worker is ``python -m flowstudio.molecules.prefetch FD`` on one end of a socket pair
(not :mod:`multiprocessing`, whose spawn re-imports the parent's main script). It exits when
its end of the pair closes: when the trainer closes it (:meth:`BatchPrefetcher.close`, at
the end of every run, however it ends) and when the trainer's process dies, even by
SIGKILL. If it cannot start, fails or dies, the trainer packs its batches itself.
"""

from __future__ import annotations

import logging
import os
import pickle
import socket
import subprocess
import sys
import traceback
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

from flowstudio.molecules.graph import AtomVocabulary, MolGraph
from flowstudio.molecules.packing import PackedSteps, pack_in_order

log = logging.getLogger(__name__)

RngState = tuple[Any, ...]
"""What ``numpy.random.get_state()`` returns."""
AUTO_START_STEPS = 20
"""With ``pack_worker=auto`` the worker starts at this step of a session: its start (about
3 s of a core to import torch and RDKit, ~300 MB) pays only on runs longer than that."""
CLOSE_WAIT_S = 5.0


def draw_batch(graphs: list[MolGraph], vocab: AtomVocabulary, batch_size: int, rng: Any) -> PackedSteps:
    """A training batch: ``batch_size`` molecules drawn with replacement, each in a random
    BFS order, packed (on the CPU). ``rng`` is ``numpy.random`` or a ``RandomState``; the
    trainer and the worker both draw with this function, so the same state gives the same batch."""
    index = rng.randint(len(graphs), size=batch_size)
    return pack_in_order([graphs[i] for i in index], vocab, rng)


def same_state(a: RngState, b: RngState) -> bool:
    """Whether two ``numpy.random.get_state()`` tuples are the same state."""
    return a[0] == b[0] and a[2:] == b[2:] and np.array_equal(a[1], b[1])


def worker_wanted(setting: str) -> bool:
    """Whether ``pack_worker`` asks for a worker: ``on``; ``auto`` where this process may use
    at least two cores per training process on this machine (torchrun's ``LOCAL_WORLD_SIZE``),
    so that the worker has a core of its own."""
    if setting != "auto":
        return setting == "on"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return cores >= 2 * max(int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1), 1)


class BatchPrefetcher:
    """The trainer's side of the packing worker (see the module docstring).

    :meth:`take` returns the batch the worker drew from the current global state (or
    ``None``: draw it yourself), :meth:`request` asks for the one after it. Any failure
    closes the worker for good (``failed``) and is logged once; training goes on without it.
    """

    def __init__(self, graphs: list[MolGraph], vocab: AtomVocabulary, batch_size: int) -> None:
        self.failed = False
        self.delivered = 0  # batches the trainer used
        self._pending: RngState | None = None
        self._ready = False
        self._conn: Connection | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        try:
            self._start(graphs, vocab, batch_size)
        except Exception as exc:  # no process, no socket: train without the worker
            self._fail(f"could not start: {exc}")

    def _start(self, graphs: list[MolGraph], vocab: AtomVocabulary, batch_size: int) -> None:
        ours, theirs = socket.socketpair()
        env = dict(os.environ, OMP_NUM_THREADS="1")
        root = str(Path(__file__).resolve().parents[2])  # flowstudio importable as the trainer has it
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "flowstudio.molecules.prefetch", str(theirs.fileno())],
                pass_fds=(theirs.fileno(),),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
            )
        finally:
            theirs.close()
        self._conn = Connection(ours.detach())
        self._conn.send_bytes(pickle.dumps((graphs, vocab, batch_size), protocol=pickle.HIGHEST_PROTOCOL))

    @property
    def running(self) -> bool:
        return self._proc is not None and not self.failed

    def take(self, state: RngState) -> tuple[PackedSteps, RngState] | None:
        """The batch drawn from ``state`` and the generator state after it, if the worker
        was asked for exactly that one; ``None`` otherwise (a stale answer is dropped)."""
        sent, self._pending = self._pending, None
        if sent is None:
            return None
        reply = self._receive()
        if reply is None or not same_state(sent, state):
            return None
        self.delivered += 1
        return reply

    def wait_ready(self, timeout: float) -> bool:
        """Block until the worker has read the graphs (at most ``timeout`` s); whether it has.
        Training never waits (it packs its own batches meanwhile); tests and benchmarks do."""
        conn = self._conn
        if self._ready or not self.running or conn is None:
            return self._ready
        try:
            if conn.poll(timeout):
                if conn.recv_bytes() != b"ready":
                    raise RuntimeError("unexpected first message")
                self._ready = True
        except (OSError, EOFError, RuntimeError) as exc:
            self._fail(f"lost ({exc})")
        return self._ready

    def request(self, state: RngState) -> None:
        """Ask for the batch drawn from ``state`` (once the worker has said it is ready)."""
        if not self.running or self._pending is not None:
            return
        conn = self._conn
        assert conn is not None
        if not self.wait_ready(0):
            return  # still importing: the trainer packs this batch itself
        try:
            conn.send_bytes(pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL))
            self._pending = state
        except (OSError, EOFError, RuntimeError) as exc:
            self._fail(f"lost ({exc})")

    def _receive(self) -> tuple[PackedSteps, RngState] | None:
        conn, proc = self._conn, self._proc
        assert conn is not None and proc is not None
        try:
            while not conn.poll(1.0):
                if proc.poll() is not None:
                    raise EOFError(f"exited with status {proc.returncode}")
            status, *payload = pickle.loads(conn.recv_bytes())
        except (OSError, EOFError, pickle.UnpicklingError) as exc:
            self._fail(f"lost ({exc})")
            return None
        if status != "ok":
            self._fail(f"failed:\n{payload[0]}")
            return None
        return payload[0], payload[1]

    def _fail(self, why: str) -> None:
        if not self.failed:
            log.warning("the batch-packing worker %s; packing on the training thread", why)
        self.failed = True
        self.close()

    def close(self) -> None:
        """Stop the worker (it exits on the closed socket) and wait for it; idempotent."""
        conn, proc = self._conn, self._proc
        self._conn, self._proc, self._pending = None, None, None
        if conn is not None:
            conn.close()
        if proc is not None:
            try:
                proc.wait(CLOSE_WAIT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    @property
    def pid(self) -> int | None:
        """The worker's process id (None when none runs)."""
        return self._proc.pid if self._proc is not None else None


def _serve(conn: Connection) -> None:
    """The worker: read the graphs, then answer each generator state with a packed batch."""
    import torch

    torch.set_num_threads(1)
    graphs, vocab, batch_size = pickle.loads(conn.recv_bytes())
    conn.send_bytes(b"ready")
    rng = np.random.RandomState()
    while True:
        try:
            state = pickle.loads(conn.recv_bytes())
        except (EOFError, OSError):
            return  # the trainer closed its end or died
        try:
            rng.set_state(state)
            packed = draw_batch(graphs, vocab, batch_size, rng)
            reply = pickle.dumps(("ok", packed, rng.get_state()), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:
            reply = pickle.dumps(("error", traceback.format_exc()))
        try:
            conn.send_bytes(reply)
        except OSError:
            return


if __name__ == "__main__":
    _serve(Connection(int(sys.argv[1])))
