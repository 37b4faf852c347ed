"""Batched generation: the valency check, its flags, temperature 0, stopping."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest
import torch
from rdkit import Chem

from flowstudio.molecules import generate as gen_module
from flowstudio.molecules.generate import END_MAX_ATOMS, END_NO_BOND, END_TOKEN, generate
from flowstudio.molecules.graph import NUM_EDGE_CLASSES, build_vocabulary
from flowstudio.molecules.graphaf import GraphAF
from flowstudio.molecules.redraws import BONDLESS, CUT_AT_CAP, RING_TYPES
from tests.molecules.test_graph import SMILES
from tests.molecules.test_graphaf import TINY, _randomize


@pytest.fixture(scope="module")
def model() -> GraphAF:
    torch.manual_seed(1)
    vocab = build_vocabulary([Chem.MolFromSmiles(s) for s in SMILES])
    model = GraphAF(vocab, TINY)
    _randomize(model)  # a wild model: many bonds break valences without the check
    return model


def test_the_check_makes_every_molecule_valid_and_flags_resampling(model) -> None:
    out = generate(model, 64, temperature=1.0, check=True, seed=0, batch_size=25)
    assert len(out.smiles) == 64 and out.resampled.shape == (64,)
    assert out.validity == 1.0
    assert all(Chem.MolFromSmiles(s) is not None for s in out.smiles)
    assert out.resampled.any()  # this random model does need the check
    assert out.validity_without_check == pytest.approx(1.0 - out.resampled.mean())
    assert set(out.ended.tolist()) <= {END_TOKEN, END_NO_BOND, END_MAX_ATOMS}
    # a molecule that ended because its new atom got no bond kept its earlier atoms only
    sizes = np.array([len(a) for a in out.atoms])
    assert (sizes[out.ended == END_MAX_ATOMS] == model.vocab.max_atoms).all()
    for atoms, bonds in zip(out.atoms, out.bonds, strict=True):
        assert 1 <= len(atoms) <= model.vocab.max_atoms
        if len(bonds):
            assert (bonds[:, 0] > bonds[:, 1]).all()
            assert (bonds[:, 0] - bonds[:, 1] <= model.vocab.edge_window).all()


def test_without_the_check_nothing_is_resampled(model) -> None:
    out = generate(model, 64, temperature=1.0, check=False, seed=0)
    assert not out.resampled.any()
    assert out.validity < 1.0  # the random model breaks valences
    assert out.validity_without_check == out.validity
    assert all((m is None) == (s is None) for m, s in zip(out.mols, out.smiles, strict=True))


def test_temperature_zero_is_deterministic(model) -> None:
    a = generate(model, 5, temperature=0.0, seed=1)
    b = generate(model, 7, temperature=0.0, seed=2)
    assert len(set(a.smiles + b.smiles)) == 1


def test_the_bond_temperature_applies_to_the_bond_steps_alone(model, monkeypatch) -> None:
    """``edge_temperature`` draws every bond step (redraws included); ``temperature`` then
    draws the atom steps, and without it both draw at ``temperature``."""
    same = generate(model, 30, temperature=0.8, seed=4, edge_temperature=0.8)
    default = generate(model, 30, temperature=0.8, seed=4)
    assert same.smiles == default.smiles
    assert default.edge_temperature == model.edge_temperature(0.8)  # the value used is reported
    real, used = gen_module._draw, []

    def spy(shape, temperature, generator, device):
        used.append((shape[-1], temperature))
        return real(shape, temperature, generator, device)

    monkeypatch.setattr(gen_module, "_draw", spy)
    out = generate(model, 40, temperature=0.9, seed=4, edge_temperature=0.4, end_temperature=None)
    assert out.resampled.any()  # redraws happened and are among the draws checked
    assert model.node_latent_dim != NUM_EDGE_CLASSES
    assert {t for k, t in used if k == NUM_EDGE_CLASSES} == {0.4}
    assert {t for k, t in used if k == model.node_latent_dim} == {0.9}
    assert out.edge_temperature == 0.4
    with pytest.raises(ValueError, match="temperatures"):
        generate(model, 3, edge_temperature=-0.1)


def test_seeds_repeat_and_sizes_vary(model) -> None:
    a = generate(model, 20, temperature=0.8, seed=3)
    b = generate(model, 20, temperature=0.8, seed=3)
    assert a.smiles == b.smiles
    assert np.ptp([len(x) for x in a.atoms]) >= 0


def _with_end_probability(model: GraphAF, p_end: float) -> GraphAF:
    """A copy of ``model`` whose END classifier says ``p_end`` at every node step."""
    other = GraphAF(model.vocab, model.config)
    other.load_state_dict(model.state_dict())
    assert other.stop_logit is not None
    with torch.no_grad():
        other.stop_logit.weight.zero_()
        other.stop_logit.bias.fill_(float(np.log(p_end / (1 - p_end))))
    return other


def test_the_end_classifier_decodes_at_its_probability_and_inverts_exactly(model) -> None:
    """END is drawn as often as the classifier says (a flow over two classes draws a rare
    class too seldom), and the latent of either decision decodes back to it, even for
    decisions the classifier finds nearly impossible."""
    for p_end in (0.1, 1e-9, 1 - 1e-6):
        m = _with_end_probability(model, p_end)
        n = 20000
        cond = torch.randn(n, m.config.flow_layers * m.config.st_hidden)
        z = torch.randn(n, m.node_latent_dim, generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            drawn = m.decode_node(cond, z, allow_end=True) == m.end_class
            if p_end == 0.1:
                assert drawn.float().mean().item() == pytest.approx(0.1, abs=0.01)
            target = torch.randint(0, m.vocab.size, (n,))
            target[: n // 2] = m.end_class
            latents, _ = m.node_latents(cond, target, noise=torch.rand(n, m.node_latent_dim))
            assert torch.equal(m.decode_node(cond, latents, allow_end=True), target)


def test_the_end_temperature_sets_how_long_molecules_grow(model) -> None:
    """Below 1 the END decision leans to its likelier class, going on: molecules grow."""
    m = _with_end_probability(model, 0.25)
    sizes, by_end = {}, {}
    for end_t in (1.0, 0.3):
        out = generate(m, 400, temperature=1.0, check=True, seed=0, end_temperature=end_t)
        assert out.validity == 1.0
        sizes[end_t] = np.mean([len(a) for a in out.atoms])
        by_end[end_t] = float(np.mean(out.ended == END_TOKEN))
    # P(END) per step: 0.25 at temperature 1, Phi(Phi^-1(0.25) / 0.3) = 0.012 at 0.3 (this
    # random model also ends many molecules on an atom without bonds).
    assert by_end[1.0] > 0.2 and by_end[0.3] < by_end[1.0] / 3
    assert sizes[0.3] > 1.2 * sizes[1.0]


def test_generation_runs_on_one_thread_and_restores_the_setting(model, monkeypatch) -> None:
    seen = []
    real = model.rgcn.forward

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return real(*args, **kwargs)

    monkeypatch.setattr(model.rgcn, "forward", spy)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        generate(model, 8, seed=0)
        assert seen and set(seen) == {1}
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


@pytest.fixture(scope="module")
def classifier_model() -> GraphAF:
    """A random model with classifier steps, whose molecules often grow to the size cap."""
    torch.manual_seed(1)
    vocab = build_vocabulary([Chem.MolFromSmiles(s) for s in SMILES])
    model = GraphAF(vocab, dataclasses.replace(TINY, categorical_steps=True))
    _randomize(model)
    return _with_end_probability(model, 0.01)


def test_molecules_cut_at_the_size_cap_are_drawn_again(classifier_model) -> None:
    """With ``redraw_cut`` a molecule that reaches the cap and would go on is drawn again;
    the finished ones of the first round are the same molecules as without it."""
    m = classifier_model
    kept = generate(m, 120, temperature=1.0, check=True, seed=0, redraw_cut=False)
    cut = kept.ended == END_MAX_ATOMS
    assert cut.any() and kept.redrawn[CUT_AT_CAP] == 0 and kept.redraws_on == frozenset()
    again = generate(m, 120, temperature=1.0, check=True, seed=0, redraw_cut=True)
    assert len(again.smiles) == 120 and again.validity == 1.0 and again.redraws_on == {CUT_AT_CAP}
    assert again.redrawn[CUT_AT_CAP] >= int(cut.sum()) and not (again.ended == END_MAX_ATOMS).any()
    finished = [s for s, c in zip(kept.smiles, cut, strict=True) if not c]
    assert again.smiles[: len(finished)] == finished
    m.redraw_cut = True  # the model's setting is the default; without the checks, nothing is redrawn
    try:
        assert generate(m, 120, temperature=1.0, check=True, seed=0).redrawn == again.redrawn
        unchecked = generate(m, 120, temperature=1.0, check=False, seed=0)
        assert unchecked.redrawn[CUT_AT_CAP] == 0 and unchecked.redraws_on == frozenset()
    finally:
        m.redraw_cut = False


def test_molecules_a_bondless_atom_ended_are_drawn_again(model) -> None:
    """With ``redraw_bondless`` a molecule that GraphAF's rule ended at a bondless new atom
    is drawn again; without the checks nothing is."""
    kept = generate(model, 128, temperature=1.0, check=True, seed=0)
    ended = kept.ended == END_NO_BOND
    assert ended.sum() >= 4 and kept.redrawn[BONDLESS] == 0
    model.redraw_bondless = True
    try:
        again = generate(model, 128, temperature=1.0, check=True, seed=0)
        assert len(again.smiles) == 128 and again.validity == 1.0
        assert again.redrawn[BONDLESS] >= int(ended.sum())
        assert (again.ended == END_NO_BOND).mean() < 0.5 * ended.mean()
        assert again.redrawn_shares() == {BONDLESS: pytest.approx(again.redrawn[BONDLESS] / 128)}
        assert generate(model, 128, temperature=1.0, check=False, seed=0).redrawn[BONDLESS] == 0
    finally:
        model.redraw_bondless = False


def test_a_molecule_the_model_ends_at_the_size_cap_is_not_cut(classifier_model) -> None:
    """At the cap the model's own END decision still tells a finished molecule from a cut one."""
    m = classifier_model
    cap = m.vocab.max_atoms
    for at_cap, expected in ((6.0, END_TOKEN), (-6.0, END_MAX_ATOMS)):
        m.end_offset[cap] = at_cap
        out = generate(m, 60, temperature=1.0, check=True, seed=0, redraw_cut=False)
        full = np.array([len(a) for a in out.atoms]) == cap
        assert full.any() and (out.ended[full] == expected).all()
    m.end_offset.zero_()


def test_generation_records_which_redraws_were_on(model) -> None:
    """The run's settings turn a redraw on only with the checks; ``redraw_cut`` overrides
    the model's setting for the cut molecules."""
    try:
        for cut, bondless, check in itertools.product((False, True), repeat=3):
            model.redraw_cut, model.redraw_bondless = cut, bondless
            asked = {CUT_AT_CAP} if cut else set()
            asked |= {BONDLESS} if bondless else set()
            out = generate(model, 4, temperature=1.0, check=check, seed=0)
            assert out.redraws_on == (asked if check else set()), (cut, bondless, check)
            flipped = generate(model, 4, temperature=1.0, check=check, seed=0, redraw_cut=not cut)
            assert flipped.redraws_on == ((asked ^ {CUT_AT_CAP}) if check else set())
    finally:
        model.redraw_cut = model.redraw_bondless = False


def test_every_molecule_drawn_again_is_counted_under_one_reason(classifier_model, monkeypatch) -> None:
    """The counts add up to the molecules drawn beyond the ``n`` returned, over several
    batches, and a reason that was off counts none."""
    drawn: list[int] = []
    real = gen_module._generate_batch
    monkeypatch.setattr(
        gen_module, "_generate_batch", lambda m, size, *a, **kw: drawn.append(size) or real(m, size, *a, **kw)
    )
    m = classifier_model
    m.redraw_bondless = True
    try:
        out = generate(m, 120, temperature=1.0, check=True, seed=0, batch_size=50, redraw_cut=True)
    finally:
        m.redraw_bondless = False
    assert len(drawn) > 3 and out.redraws_on == {CUT_AT_CAP, BONDLESS}
    assert out.redrawn[CUT_AT_CAP] > 0 and out.redrawn[BONDLESS] > 0 and out.redrawn[RING_TYPES] == 0
    assert sum(out.redrawn.values()) == sum(drawn) - 120
    shares = out.redrawn_shares()
    assert list(shares) == [CUT_AT_CAP, BONDLESS]
    assert shares == {r: pytest.approx(out.redrawn[r] / 120) for r in (CUT_AT_CAP, BONDLESS)}


def test_a_hydrogen_on_a_hypervalent_atom_is_drawn_again() -> None:
    """The demo model draws a λ4-sulfane now and then; with the redraw, never."""
    from pathlib import Path

    from flowstudio.cli.mols import load_task
    from flowstudio.molecules.generated import hydrogen_on_hypervalent
    from flowstudio.molecules.redraws import HYPERVALENT_H

    demo = Path(__file__).resolve().parents[2] / "samples" / "models" / "molecules-graphaf"
    model = load_task(demo).model
    assert model.redraw_hypervalent  # the demo run asks for it
    model.redraw_hypervalent = False
    without = generate(model, 1000, temperature=0.9, seed=0)
    assert hydrogen_on_hypervalent(without).any() and HYPERVALENT_H not in without.redraws_on
    model.redraw_hypervalent = True
    drawn = generate(model, 1000, temperature=0.9, seed=0)
    assert not hydrogen_on_hypervalent(drawn).any() and drawn.redrawn[HYPERVALENT_H] > 0
    assert drawn.validity == 1.0


def test_a_ring_system_the_training_molecules_lack_is_drawn_again() -> None:
    """The demo model draws a kind of ring system its 20,000 training molecules lack now and
    then; with the redraw, never, and the kinds come with the run."""
    from pathlib import Path

    from flowstudio.cli.mols import load_task
    from flowstudio.molecules.generated import unseen_ring_system
    from flowstudio.molecules.redraws import UNSEEN_RING_SYSTEM

    demo = Path(__file__).resolve().parents[2] / "samples" / "models" / "molecules-graphaf"
    model = load_task(demo).model
    assert model.ring_systems is not None and "c1ccccc1" in model.ring_systems
    assert not model.redraw_unseen_rings  # off in the presets
    without = generate(model, 300, temperature=0.9, seed=0)
    assert unseen_ring_system(without, model.ring_systems).mean() > 0.02
    assert UNSEEN_RING_SYSTEM not in without.redraws_on
    model.redraw_unseen_rings = True
    drawn = generate(model, 300, temperature=0.9, seed=0)
    assert not unseen_ring_system(drawn, model.ring_systems).any() and drawn.redrawn[UNSEEN_RING_SYSTEM] > 0
    assert drawn.validity == 1.0 and UNSEEN_RING_SYSTEM in drawn.redraws_on
