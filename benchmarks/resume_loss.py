"""Steps lost to a ``kill -9``: train, kill the trainer hard, resume, count what is gone.

For each engine, a quick-preset training runs through the CLI in a subprocess;
``--kill-after`` seconds after its first log line (step 10) it is killed with SIGKILL (no
chance to save). The steps it had
trained are read from ``metrics.jsonl`` (logged every ``log_every`` steps, so the count
is a lower bound); ``--resume`` is then run for one more step and its "resumed from step
S" line says what survived. Lost = trained - S (all of it when the resume is refused).

The baseline is the same procedure on another source tree (``--baseline-src``, e.g. an
export of the commit before the change) in the same run::

    git archive BASE | tar -x -C /tmp/fs-before
    flock /tmp/flowstudio-bench.lock .venv/bin/python benchmarks/resume_loss.py \\
        --baseline-src /tmp/fs-before --out benchmarks/results/resume-loss.json
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ENGINES = {
    "points": ["points", "train", "--data", str(REPO / "samples/pointclouds/shapes.npz"),
               "--model", "pointflow", "--preset", "quick"],
    "mols": ["mols", "train", "--data", str(REPO / "samples/molecules/moses_20k.smi"), "--preset", "quick"],
}


def _last_step(run: Path) -> int:
    steps = [0]
    path = run / "metrics.jsonl"
    if path.is_file():
        for line in path.read_text().splitlines():
            try:
                steps.append(int(json.loads(line).get("step", 0)))
            except ValueError:
                continue
    return max(steps)


def measure(engine: str, src: Path, kill_after: float, work: Path) -> dict:
    """One kill -9 and resume of ``engine`` with the package found in ``src``."""
    env = {**os.environ, "PYTHONPATH": str(src), "OMP_NUM_THREADS": "1"}
    run = work / f"{engine}-{src.name}"
    command = [sys.executable, "-m", "flowstudio", *ENGINES[engine], "--out", str(run)]
    # cwd outside the repository: ``python -m`` puts the working folder first on sys.path
    proc = subprocess.Popen(command, env=env, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while not (run / "metrics.jsonl").exists() and proc.poll() is None:  # the first 10 steps are done
        time.sleep(0.1)
    time.sleep(kill_after)  # seconds of training, roughly: the clock starts at the first log line
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    trained = _last_step(run)
    strays = sorted(p.name for p in run.rglob(".*.tmp"))
    resume = subprocess.run([*command, "--resume", "--iters", str(trained + 1)], env=env, cwd=work,
                            capture_output=True, text=True, timeout=600)
    found = re.search(r"resumed from step (\d+)", resume.stderr)
    kept = int(found.group(1)) if found else 0
    refused = "" if found else " ".join(resume.stderr.strip().splitlines()[-1:])
    # ``trained`` is the last logged step, a lower bound: a checkpoint past it loses nothing
    return {"engine": engine, "source": str(src), "killed_after_s": kill_after,
            "trained_steps": trained, "resumed_from": kept, "lost_steps": max(0, trained - kept),
            "resume_exit": resume.returncode, "refused": refused, "stray_temp_files": strays}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline-src", type=Path, help="a source tree measured as the baseline")
    parser.add_argument("--kill-after", type=float, default=50.0,
                        help="seconds after the first log line before SIGKILL (default 50: just before the "
                        "60-second checkpoint of the old default)")
    parser.add_argument("--engines", nargs="+", default=list(ENGINES), choices=list(ENGINES))
    parser.add_argument("--out", type=Path, help="write the rows as JSON here")
    args = parser.parse_args()
    sources = ([args.baseline_src.resolve()] if args.baseline_src else []) + [REPO]
    rows = []
    with tempfile.TemporaryDirectory(prefix="resume-loss-") as tmp:
        for engine in args.engines:
            for src in sources:
                row = measure(engine, src, args.kill_after, Path(tmp))
                rows.append(row)
                print(json.dumps(row), flush=True)
    if args.out:
        args.out.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
