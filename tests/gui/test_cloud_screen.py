"""Where points land on a view's screen (issue 15): the nearest point per pixel that a still
frame of a big cloud draws instead of the whole cloud, and the shape a click falls on."""

from __future__ import annotations

import numpy as np
import pytest

from flowstudio.gui.cloud_screen import cloud_at, nearest_per_pixel

pytestmark = pytest.mark.gui


def test_the_nearest_point_of_each_pixel_is_kept() -> None:
    #              pixel (2, 1) twice, (0, 0), off the view, behind the camera, (2, 1) again
    x = np.array([2.2, 2.9, 0.1, 5.0, np.nan, 2.5], np.float32)
    y = np.array([1.5, 1.1, 0.0, 1.0, 1.0, 1.9], np.float32)
    depth = np.array([0.5, 0.2, 0.9, 0.0, 0.0, 0.7], np.float32)
    kept = nearest_per_pixel(x, y, depth, width=4, height=3)
    assert sorted(kept.tolist()) == [1, 2]


def test_every_pixel_keeps_one_point_and_no_nearer_one_is_left_out() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.uniform(0, 20, (2, 5_000)).astype(np.float32)
    depth = rng.normal(size=5_000).astype(np.float32)
    kept = nearest_per_pixel(x, y, depth, 20, 20)
    pixel = y.astype(int) * 20 + x.astype(int)
    assert len(kept) == len(np.unique(pixel))
    nearest = {}
    for i in range(len(x)):
        p = pixel[i]
        if p not in nearest or depth[i] < depth[nearest[p]]:
            nearest[p] = i
    assert sorted(kept.tolist()) == sorted(nearest.values())


def test_a_click_picks_the_cloud_owning_the_nearest_point() -> None:
    x = np.array([10, 12, 50, 52, 90], np.float32)
    y = np.zeros(5, np.float32)
    starts = np.array([0, 2, 4])  # clouds of 2, 2 and 1 points
    assert cloud_at(x, y, starts, (11, 3), radius=12) == 0
    assert cloud_at(x, y, starts, (53, -2), radius=12) == 1
    assert cloud_at(x, y, starts, (89, 0), radius=12) == 2
    assert cloud_at(x, y, starts, (70, 0), radius=12) is None  # between shapes: nothing


def test_a_still_big_cloud_draws_the_nearest_point_per_pixel(window, monkeypatch) -> None:
    """The same picture as the whole cloud, from a fraction of its points, chosen again when
    the camera turns."""
    from flowstudio.gui import views_points

    monkeypatch.setattr(views_points, "SPHERE_LIMIT", 2_000)
    rng = np.random.default_rng(0)
    u, v = rng.uniform(0, 2 * np.pi, (2, 80_000))
    r = 1 + 0.35 * np.cos(v)
    torus = np.column_stack([r * np.cos(u), 0.35 * np.sin(v), r * np.sin(u)]).astype(np.float32)
    view = views_points.CloudView(window)
    view.resize(240, 180)
    view.show()
    view.show_clouds([torus])
    view.plotter.camera.Elevation(30)
    still = view.image().astype(np.int16)
    drawn, chosen_for = view._cloud.n_points, view._still_key
    assert 1_000 < drawn < len(torus) // 3
    choose = views_points.nearest_per_pixel
    monkeypatch.setattr(views_points, "nearest_per_pixel", lambda x, *_: np.arange(len(x)))
    view._still_key = None
    whole = view.image().astype(np.int16)
    assert view._cloud.n_points == len(torus)
    assert (np.abs(still - whole).max(axis=2) > 30).mean() < 0.03
    monkeypatch.setattr(views_points, "nearest_per_pixel", choose)
    view.plotter.camera.Azimuth(40)
    view.image()
    assert view._still_key != chosen_for and view._cloud.n_points < len(torus) // 3
    view.close_view()
