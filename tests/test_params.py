"""The hyperparameter schemas: every setting is explained, presets and ``--set`` resolve
through one checked path, and the spline flows' bins and tail bound are settable."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from flowstudio.cli.common import option_help, parse_sets
from flowstudio.errors import BadInputError
from flowstudio.molecules import settings as mol_settings
from flowstudio.molecules.graphaf import GraphAFConfig
from flowstudio.params import EngineSettings, config_from, constant, from_setting, params_of, resolve, setting
from flowstudio.pointclouds import settings as pc_settings
from flowstudio.pointclouds.models import DiscreteFlowSettings
from flowstudio.pointclouds.pointflow import PointFlowConfig, pointflow_config
from flowstudio.pointclouds.schema import SPLINE_MODELS, PointCloudSettings


def test_a_setting_without_help_is_refused() -> None:
    @dataclasses.dataclass(frozen=True)
    class Explained:
        width: int = setting(8, "How wide.", minimum=1)

    @dataclasses.dataclass(frozen=True)
    class Unexplained(Explained):
        depth: int = 3  # a plain field: no help, no range

    @dataclasses.dataclass(frozen=True)
    class Blank:
        depth: int = setting(3, "  ")

    assert [p.name for p in params_of(Explained)] == ["width"]
    with pytest.raises(TypeError, match=r"Unexplained\.depth has no help"):
        params_of(Unexplained)
    with pytest.raises(TypeError, match=r"Blank\.depth has no help"):
        params_of(Blank)


@pytest.mark.parametrize("schema", [PointCloudSettings, mol_settings.MoleculeSettings, EngineSettings])
def test_every_field_of_each_schema_is_a_param_with_its_default(schema: type) -> None:
    params = params_of(schema)
    assert [p.name for p in params] == [f.name for f in dataclasses.fields(schema)]
    defaults = schema()
    for p in params:
        assert p.default == getattr(defaults, p.name), p.name
        assert p.validate(p.default) == p.default, p.name  # every default lies in its own range


def test_each_engine_lists_its_schema_then_the_engine_options() -> None:
    engine = [f.name for f in dataclasses.fields(EngineSettings)]
    for schema, params in (
        (PointCloudSettings, pc_settings.HYPERPARAMETERS),
        (mol_settings.MoleculeSettings, mol_settings.HYPERPARAMETERS),
    ):
        assert [p.name for p in params] == [f.name for f in dataclasses.fields(schema)] + engine
        assert "{samples_of}" not in " ".join(p.help for p in params)


def test_every_graphaf_option_is_a_molecule_setting() -> None:
    # the model's config is made from the run's values by field name (config_from): a field
    # without a setting could be neither shown, set nor recorded
    names = {p.name for p in mol_settings.HYPERPARAMETERS}
    missing = {f.name for f in dataclasses.fields(GraphAFConfig)} - names
    assert not missing, missing
    values = mol_settings.resolve("full", {"flow_layers": 2})
    assert config_from(GraphAFConfig, values).flow_layers == 2


def test_resolve_applies_the_preset_then_the_overrides_and_checks_both() -> None:
    params = params_of(EngineSettings)
    values = resolve(params, {"lr": 5e-3, "iters": 10}, {"iters": "20"})
    assert values["lr"] == 5e-3 and values["iters"] == 20 and values["seed"] == 0
    with pytest.raises(BadInputError, match=r"'lr' must be <= 1\.0"):
        resolve(params, {}, {"lr": 3})
    with pytest.raises(BadInputError, match="unknown hyperparameter 'lrr'"):
        resolve(params, {}, {"lrr": 3})
    with pytest.raises(KeyError, match="'lrr'"):  # a preset naming no parameter is a bug
        resolve(params, {"lrr": 3})


@pytest.mark.parametrize(
    ("pairs", "params", "message"),
    [
        (["bins=0"], pc_settings.BY_NAME, "'bins' must be >= 1"),
        (["tail_bound=1000"], pc_settings.BY_NAME, "'tail_bound' must be <= 100"),
        (["steps=2.5"], pc_settings.BY_NAME, "'steps' must be a int"),
        (["flow_layers=0"], mol_settings.BY_NAME, "'flow_layers' must be >= 1"),
        (["temperature=-1"], mol_settings.BY_NAME, "'temperature' must be >= 0"),
    ],
)
def test_set_range_errors_name_the_setting(pairs: list[str], params, message: str) -> None:
    with pytest.raises(BadInputError, match=message):
        parse_sets(pairs, params)


def test_the_spline_flows_bins_and_tail_bound_are_set_through_the_schema() -> None:
    from flowstudio.pointclouds.task import PointCloudTask

    shape = np.random.default_rng(0).normal(size=(64, 3)).astype(np.float32)
    tiny = {"flow_layers": 2, "flow_hidden": 8}
    for model in SPLINE_MODELS:
        assert {"bins", "tail_bound"} <= {p.name for p in pc_settings.hyperparameters(model)}
        overrides = {**tiny, **parse_sets(["bins=5", "tail_bound=2.5"], pc_settings.BY_NAME)}
        task = PointCloudTask(shape, model, "quick", overrides)
        splines = [m.spline for m in task.model.modules() if hasattr(m, "spline")]
        assert splines and all((s.bins, s.tail_bound) == (5, 2.5) for s in splines), model
        # recorded in the run's config, so a reopened run has the same splines
        reopened = PointCloudTask.from_config(task.config())
        assert [m.spline for m in reopened.model.modules() if hasattr(m, "spline")] == splines
    assert "bins" not in {p.name for p in pc_settings.hyperparameters("realnvp")}


def test_flag_help_states_each_presets_default() -> None:
    presets = {preset: mol_settings.resolve(preset) for preset in mol_settings.PRESETS}
    text = option_help("lr", mol_settings.BY_NAME, presets)
    assert f"{presets['quick']['lr']!r} (quick)" in text and f"{presets['full']['lr']!r} (full)" in text
    assert mol_settings.BY_NAME["lr"].help in text


def test_a_model_config_reads_its_settings_and_nothing_its_model_does_not_declare() -> None:
    @dataclasses.dataclass(frozen=True)
    class Config:
        depth: int = 2  # reads the setting of its own name
        widths: tuple[int, ...] = from_setting((8,), name="hidden", convert=lambda text, _: tuple(map(int, text)))  # noqa: E501
        bins: int | None = from_setting(None, optional=True)
        eps: float = constant(1e-6)

    config = config_from(Config, {"depth": 3, "hidden": "45", "eps": 1.0})
    assert config == Config(depth=3, widths=(4, 5), bins=None, eps=1e-6)
    assert config_from(Config, {"depth": 3, "hidden": "4", "bins": 7}).bins == 7
    with pytest.raises(KeyError, match=r"Config\.depth reads the setting 'depth'"):
        config_from(Config, {"hidden": "4"})
    # a model is given only the settings the schema says it reads
    values = pc_settings.resolve("pointflow", "quick")
    assert pointflow_config(pc_settings.read_by("pointflow", values)).latent_dim == values["latent_dim"]
    with pytest.raises(KeyError, match="'latent_dim'"):
        config_from(PointFlowConfig, pc_settings.read_by("cnf", values))
    discrete = {model: config_from(DiscreteFlowSettings, pc_settings.read_by(model, values)).flow_options()
                for model in ("realnvp", "nsf")}
    assert "bins" not in discrete["realnvp"] and discrete["nsf"]["bins"] == values["bins"]


def test_each_models_form_and_set_keys_are_the_settings_it_reads() -> None:
    for model in pc_settings.MODELS:
        names = {p.name for p in pc_settings.hyperparameters(model)}
        assert names == set(pc_settings.read_by(model, pc_settings.resolve(model, "quick"))), model
    assert "latent_dim" in {p.name for p in pc_settings.hyperparameters("pointflow")}
    assert "latent_dim" not in {p.name for p in pc_settings.hyperparameters("cnf")}
    with pytest.raises(BadInputError, match="'bins' is not read by the 'realnvp' model; it is read by nsf"):
        pc_settings.refuse_unread("realnvp", {"bins": 5})
    pc_settings.refuse_unread("nsf", {"bins": 5, "lr": 1e-3})
    assert "nsf, nsf_ar: bins, tail_bound" in pc_settings.keys_by_models()
