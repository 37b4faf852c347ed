"""Frames per second of the window's point-cloud view rotating a 1,000,000-point cloud.

The view (``flowstudio.gui.views_points.CloudView``) draws clouds above ``SPHERE_LIMIT``
points as flat points; while the mouse rotates them only ``LOD_POINTS`` of them (a fixed
random subset); and when it is released, the nearest point in each pixel of the view for
that camera (``flowstudio.gui.cloud_screen.nearest_per_pixel``, chosen before each frame
whose camera or size changed). Measured here, in one run on the same X server and GL
(Mesa's software rasterizer under Xvfb on a CPU machine):

* ``spheres``: every point a sphere impostor, no subset (the view of session 5), rotating;
* ``all flat``: the whole cloud as flat points (what showed on release until session 7);
* ``still``: full resolution as drawn now on release: each frame chooses the nearest
  point per pixel for its camera (so the numpy selection is in every frame's time) and
  draws those;
* ``rotating``: the level-of-detail subset, as drawn while the mouse drags, after 15
  frames in which its size adapts to the frame time (its final size is reported).

Each case renders ``--frames`` frames, turning the camera 2 degrees per frame; the rate
is frames / wall time of ``plotter.render()``. The still frame's fidelity is the share of
pixels that differ (by more than 30 of 255 in a channel) between ``all flat`` and ``still``
drawn from one camera. Goals (issue 15): >= 20 fps while rotating; a full-resolution
redraw that feels immediate (>= 10 fps).

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
    choose = views_points.nearest_per_pixel
    every_point = lambda x, *_: np.arange(len(x))  # noqa: E731 (the drawing before session 7)
    images: dict[str, np.ndarray] = {}
    shown: list[int] = []
    for case in ("spheres", "all flat", "still", "rotating") * 2:  # two rounds
        views_points.SPHERE_LIMIT = args.points + 1 if case == "spheres" else sphere_limit
        views_points.nearest_per_pixel = every_point if case == "all flat" else choose
        view = views_points.CloudView(None)
        view.resize(1000, 700)
        view.show()
        app.processEvents()
        view.show_clouds([cloud], reset_camera=True)
        app.processEvents()
        view.set_interacting(case == "rotating")
        if case in ("all flat", "still"):
            view.plotter.camera.Elevation(30)
            images[case] = np.asarray(view.image(), dtype=np.int16)
            if case == "still":
                shown.append(view._cloud.n_points)
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
    views_points.nearest_per_pixel = choose
    differ = 100 * float((np.abs(images["all flat"] - images["still"]).max(axis=2) > 30).mean())
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
        f"| spheres: every point a sphere impostor (session 5's view, baseline) | {best['spheres']:.1f} |",
        f"| all flat: the whole cloud as flat points (the still frame until session 7, baseline) "
        f"| {best['all flat']:.1f} |",
        f"| still: the nearest point per pixel, chosen each frame ({' / '.join(f'{n:,}' for n in shown)} "
        f"points drawn) | {best['still']:.1f} |",
        f"| rotating: the subset ({' / '.join(f'{b:,}' for b in budgets['rotating'])} points) "
        f"| {best['rotating']:.1f} |",
        "",
        f"Rotating is {best['rotating'] / best['spheres']:.1f}x the spheres; goal >= 20 fps: "
        + ("**met**" if best["rotating"] >= 20 else "**not met**")
        + f". A still full-resolution frame is {best['still'] / best['all flat']:.1f}x the whole flat "
        "cloud; goal >= 10 fps: "
        + ("**met**" if best["still"] >= 10 else "**not met**")
        + f". The two still pictures differ in {differ:.2f}% of the view's pixels.",
        "",
    ]
    Path(args.out).write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
