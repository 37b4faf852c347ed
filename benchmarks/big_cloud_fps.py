"""Frames per second of the window's point-cloud view rotating a 1,000,000-point cloud.

The view (``flowstudio.gui.views_points.CloudView``) draws clouds above ``SPHERE_LIMIT``
points as flat points, and while the mouse rotates them only ``LOD_POINTS`` of them (a
fixed random subset; the whole cloud returns on release). Measured here, in one run on
the same X server and GL (Mesa's software rasterizer under Xvfb on a CPU machine):

* ``before``: the view's drawing before the change (every point a sphere impostor, no
  subset), rotating;
* ``still``: the whole cloud as flat points (what shows when the mouse is released);
* ``rotating``: the level-of-detail subset, as drawn while the mouse drags, after 15
  frames in which its size adapts to the frame time (its final size is reported).

Each case renders ``--frames`` frames, turning the camera 2 degrees per frame; the rate
is frames / wall time of ``plotter.render()``. Goal (issue 15): >= 20 fps while rotating.

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python benchmarks/big_cloud_fps.py
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def torus_cloud(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    u, v = rng.uniform(0, 2 * np.pi, (2, n))
    r = 1.0 + 0.35 * np.cos(v)
    return np.column_stack([r * np.cos(u), 0.35 * np.sin(v), r * np.sin(u)]).astype(np.float32)


def rate(view, frames: int) -> float:
    plotter = view.plotter
    plotter.render()
    start = time.perf_counter()
    for _ in range(frames):
        plotter.camera.Azimuth(2.0)
        plotter.render()
    return frames / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--lod", type=int, help="points drawn while rotating (default: the view's)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "big-clouds.md"))
    args = parser.parse_args()
    os.environ.setdefault("PYVISTA_OFF_SCREEN", "false")
    from flowstudio.gui import views_points
    from flowstudio.gui.app import create_app

    app = create_app([])
    if args.lod:
        views_points.LOD_POINTS = args.lod
    cloud = torus_cloud(args.points)
    sphere_limit = views_points.SPHERE_LIMIT
    results: dict[str, list[float]] = {}
    budgets: dict[str, list[int]] = {}
    for case in ("before", "still", "rotating", "before", "still", "rotating"):  # two rounds
        views_points.SPHERE_LIMIT = args.points + 1 if case == "before" else sphere_limit
        view = views_points.CloudView(None)
        view.resize(1000, 700)
        view.show()
        app.processEvents()
        view.show_clouds([cloud], reset_camera=True)
        app.processEvents()
        view.set_interacting(case == "rotating")
        if case == "rotating":
            rate(view, 15)  # the subset adapts to the frame time first
        fps = rate(view, args.frames)
        results.setdefault(case, []).append(fps)
        budgets.setdefault(case, []).append(view.lod_budget)
        print(f"{case}: {fps:.1f} fps (subset {view.lod_budget:,} points)", flush=True)
        view.close_view()
        view.deleteLater()
        app.processEvents()
    views_points.SPHERE_LIMIT = sphere_limit
    best = {k: max(v) for k, v in results.items()}
    load = os.getloadavg()[0]
    lines = [
        "# Big clouds: rotating a 1 M-point cloud in the window's view (issue 15)",
        "",
        f"`{' '.join(['python', *sys.argv])}` · {args.points:,} points, 1000x700 view, Xvfb + Mesa "
        f"({platform.machine()}, {os.cpu_count()} CPUs, shared machine, load {load:.1f}) · "
        "two rounds, the better one of each case shown (all: "
        + ", ".join(f"{k} {' / '.join(f'{x:.1f}' for x in v)}" for k, v in results.items())
        + ")",
        "",
        "| case | frames per second |",
        "|---|---|",
        f"| before: every point a sphere impostor (baseline, same run) | {best['before']:.1f} |",
        f"| still: the whole cloud as flat points | {best['still']:.1f} |",
        f"| rotating: the subset ({' / '.join(f'{b:,}' for b in budgets['rotating'])} points) "
        f"| {best['rotating']:.1f} |",
        "",
        f"Rotating is {best['rotating'] / best['before']:.1f}x the baseline; goal >= 20 fps: "
        + ("**met**" if best["rotating"] >= 20 else "**not met**")
        + ".",
        "",
    ]
    Path(args.out).write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
