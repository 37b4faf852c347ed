"""Atom and bond steps as classifiers with exact Gaussian latents (categorical_step)."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from rdkit import Chem

from flowstudio.molecules.categorical_step import CategoricalSteps, gumbel_to_normal, normal_to_gumbel
from flowstudio.molecules.generate import generate
from flowstudio.molecules.graph import build_vocabulary
from flowstudio.molecules.graphaf import GraphAF
from flowstudio.molecules.latent import decode_latents, encode
from tests.molecules.test_graph import SMILES
from tests.molecules.test_graphaf import TINY, _randomize

N = 20_000


@pytest.fixture
def decisions():
    """Decisions of N contexts over 4 classes, with probabilities from near 1 to below 1e-3."""
    torch.manual_seed(0)
    steps = CategoricalSteps(4, 8, dequantization=0.5)
    with torch.no_grad():
        steps.readout.weight.normal_(0.0, 3.0)
        steps.readout.bias.copy_(torch.tensor([2.0, 0.0, -3.0, 0.5]))
    with torch.no_grad():
        return steps.at(torch.randn(N, 8))


def _frequencies(classes: torch.Tensor) -> torch.Tensor:
    return torch.bincount(classes, minlength=4).float() / len(classes)


def test_gumbel_and_normal_maps_are_inverse() -> None:
    g = torch.linspace(-2.5, 20.0, 200)
    assert torch.allclose(normal_to_gumbel(gumbel_to_normal(g)), g, atol=2e-3)
    z = torch.linspace(-5.0, 5.0, 200)
    assert torch.allclose(gumbel_to_normal(normal_to_gumbel(z)), z, atol=2e-3)


def test_decoding_standard_normal_latents_draws_from_the_classifier(decisions) -> None:
    z = torch.randn(N, 4, generator=torch.Generator().manual_seed(1))
    drawn = decisions.inverse(z)[0].argmax(dim=1)
    expected = decisions.log_probs.exp().mean(dim=0)
    assert torch.allclose(_frequencies(drawn), expected, atol=0.012)
    assert float(expected.min()) < 0.15  # a rare class is among them, and drawn as often


def test_cooler_latents_draw_the_most_likely_class_more_often(decisions) -> None:
    mode = decisions.log_probs.argmax(dim=1)
    z = torch.randn(N, 4, generator=torch.Generator().manual_seed(2))
    agree = [
        float((decisions.inverse(t * z)[0].argmax(dim=1) == mode).float().mean()) for t in (1.0, 0.6, 0.0)
    ]
    assert agree[0] < agree[1] < agree[2] == 1.0


def test_encoding_decodes_to_the_class_and_is_standard_normal(decisions) -> None:
    generator = torch.Generator().manual_seed(3)
    # classes drawn from the model: their encodings are N(0, I), as a flow's latents are
    classes = torch.multinomial(decisions.log_probs.exp(), 1, generator=generator).squeeze(1)
    x = torch.nn.functional.one_hot(classes, 4).float() + 0.5 * torch.rand(N, 4, generator=generator)
    z, log_p = decisions.forward(x)
    assert torch.equal(decisions.inverse(z)[0].argmax(dim=1), classes)
    assert torch.allclose(log_p, decisions.log_probs.gather(1, classes[:, None]).squeeze(1))
    assert float(z.mean(0).abs().max()) < 0.03 and float((z.std(0) - 1).abs().max()) < 0.03
    # any class, however improbable, encodes to a finite latent that decodes back to it
    for klass in range(4):
        x = torch.nn.functional.one_hot(torch.full((N,), klass), 4).float() + 0.25
        z, _ = decisions.forward(x)
        assert bool(torch.isfinite(z).all())
        assert bool((decisions.inverse(z)[0].argmax(dim=1) == klass).all())


def test_a_categorical_graphaf_reconstructs_and_generates() -> None:
    mols = [Chem.MolFromSmiles(s) for s in SMILES]
    model = GraphAF(build_vocabulary(mols), dataclasses.replace(TINY, categorical_steps=True))
    _randomize(model)
    latents = encode(model, mols, seed=0)
    decoded = decode_latents(model, latents)
    assert [Chem.MolToSmiles(m) for m in decoded.mols] == [Chem.MolToSmiles(m) for m in mols]
    out = generate(model, 64, temperature=1.0, seed=0)
    # the valency check redraws a classifier's bonds too
    assert out.validity == 1.0 and out.validity_without_check < 1.0
    assert len(set(out.smiles)) > 8
