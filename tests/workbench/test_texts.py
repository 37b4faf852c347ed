"""The window's wording follows where the user stands (no stale "Train a model…")."""

from __future__ import annotations

from flowstudio.workbench import texts


def test_an_empty_view_follows_the_run_and_the_model() -> None:
    assert texts.view_placeholder("idle", False) == texts.NEEDS_MODEL
    for activity in ("running", "paused", "stopping"):
        assert "Train a model" not in texts.view_placeholder(activity, False), activity
    assert texts.view_placeholder("running", False) == texts.TRAINING
    ready = texts.view_placeholder("idle", True, "press Resample")
    assert "press Resample" in ready and "Train a model" not in ready
    assert "Train a model" not in texts.view_placeholder("running", True, "press Resample")


def test_the_title_never_repeats_the_application_name() -> None:
    title = texts.window_title("Point clouds", "chair.ply", ["Molecules"])
    assert title == "Point clouds · chair.ply — training (Molecules)"
    assert "FlowStudio" not in texts.window_title("Molecules", None, [])


def test_the_metrics_caption_names_temperature_samples_model_and_step() -> None:
    caption = texts.metrics_caption(0.7, 1000, "graphaf", 1234)
    assert "T = 0.7" in caption and "1,000 samples" in caption and "graphaf at step 1,234" in caption
    assert "bonds" not in caption and "bonds" not in texts.metrics_caption(0.7, 10, "graphaf", 1, 0.7)
    assert texts.metrics_caption(0.9, 10, "graphaf", 1, 0.6).endswith("T = 0.9 (bonds 0.6)")


def test_the_training_clash_names_the_running_workspace() -> None:
    text = texts.training_clash("Molecules", ["Point clouds"])
    assert text.startswith("Point clouds is training") and "Molecules run" in text
