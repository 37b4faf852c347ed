"""Render what a point-cloud run has learned, to look at: data, samples, reconstructions.

One PNG, one row per picture kind and run: the first row shows reference shapes of the
data, then for each run a row of samples drawn from the prior (PointFlow) or the single
shape's density (cnf), and for PointFlow a row of reconstructions of the same reference
shapes (encode, decode the latent mean), which tells a weak decoder from a weak prior.

    xvfb-run -a python benchmarks/pointflow_look.py --data samples/pointclouds/shapes.npz \\
        --runs RUN_A RUN_B --out look.png [--shapes 0 40 80 120] [--temperature 1.0] \\
        [--latent-temperatures 1.0 1.5] [--point-temperatures 1.0 0.9] [--solver dopri5]

Off-screen rendering needs a display (Xvfb) for VTK's OpenGL context.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def _rows(args: argparse.Namespace) -> list[tuple[str, list[np.ndarray]]]:
    from pointflow_validation import sampler, step_power

    from flowstudio.pointclouds import analyses
    from flowstudio.pointclouds.io import read_collection
    from flowstudio.training import Run, restore_task

    data = read_collection(args.data, n_points=args.points, seed=0)
    shapes = [data.points[i] for i in args.shapes]
    rows = [(f"data ({Path(args.data).name})", shapes)]
    solver, steps, power = sampler(args.solver)
    for run in args.runs:
        restored = restore_task(Run(run).checkpoint(args.checkpoint), kind="points")
        task = restored.task
        label = f"{Path(run).name} step {restored.step}"
        label += "" if args.solver == "run" else f", {args.solver}"
        with analyses.point_solver(task.model, solver, steps), step_power(task.model, power):
            rows += _run_rows(args, task, label, shapes)
    return rows


def _run_rows(args: argparse.Namespace, task: object, label: str, shapes: list[np.ndarray]) -> list:
    """The rows of one run: its samples (per temperature asked for) and reconstructions."""
    from flowstudio.pointclouds import analyses

    rows = []
    for latent_t in args.latent_temperatures or [None]:
        for point_t in args.point_temperatures or [None]:
            note = ""
            if latent_t is not None:  # PointFlow's latent_temperature, instead of the run's own
                task.model.config.latent_temperature = latent_t
                note += f", latent x{latent_t:g}"
            if point_t is not None:  # and its point_temperature
                task.model.config.point_temperature = point_t
                note += f", points x{point_t:g}"
            clouds = analyses.sample(task, len(shapes), args.points, args.temperature, seed=args.seed)
            rows.append((f"{label}: samples T={args.temperature:g}{note}", list(clouds)))
    if task.model.latent_dim:
        recon = [analyses.reconstruct(task, s, args.points, seed=args.seed) for s in shapes]
        rows.append((f"{label}: reconstructions", recon))
    return rows


def render(rows: list[tuple[str, list[np.ndarray]]], out: Path, size: int) -> None:
    import pyvista as pv

    cols = max(len(clouds) for _, clouds in rows)
    shape = (len(rows), cols)
    plotter = pv.Plotter(off_screen=True, shape=shape, window_size=(size * cols, size * len(rows)))
    plotter.set_background("white")
    for r, (label, clouds) in enumerate(rows):
        for c, cloud in enumerate(clouds):
            plotter.subplot(r, c)
            if c == 0:
                plotter.add_text(label, font_size=9, color="black")
            mesh = pv.PolyData(np.asarray(cloud, dtype=np.float32))
            mesh["height"] = mesh.points[:, 1]
            plotter.add_mesh(mesh, scalars="height", cmap="viridis", point_size=4,
                             render_points_as_spheres=True, show_scalar_bar=False)
            plotter.view_isometric()
    plotter.screenshot(str(out))
    plotter.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="the shapes the runs were trained on")
    parser.add_argument("--runs", nargs="+", required=True, help="run folders written by 'points train'")
    parser.add_argument("--out", type=Path, required=True, help="the PNG to write")
    parser.add_argument("--shapes", type=int, nargs="+", default=[0, 40, 80, 120, 160],
                        help="indices of the reference shapes (default: one per class of shapes.npz)")
    parser.add_argument("--points", type=int, default=1024)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--checkpoint", choices=("best", "latest"), default="latest")
    parser.add_argument(
        "--latent-temperatures", type=float, nargs="*", default=None,
        help="PointFlow: one row of samples per latent temperature (default: the run's own)",
    )
    parser.add_argument(
        "--point-temperatures", type=float, nargs="*", default=None,
        help="PointFlow: one row of samples per point temperature (default: the run's own)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--solver", default="run",
                        help="the point CNF's solver: run (its own), dopri5, rk4:8 or rk4:8^2 (step power)")
    parser.add_argument("--size", type=int, default=260, help="pixels per picture")
    args = parser.parse_args(argv)
    render(_rows(args), args.out, args.size)
    print(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
