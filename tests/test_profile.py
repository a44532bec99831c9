"""Task-loss profiles: the shipped table, its derivation and interpolation."""

from __future__ import annotations

import numpy as np
import pytest

from netsim.errors import ScenarioError
from netsim.model.encoders import ENCODERS
from netsim.model.profile_model import (
    AnalyticProfileModel,
    build_rows,
    clean_margin,
    render_csv,
    top1_accuracy,
)
from netsim.model.taskloss import DEFAULT_PROFILE_PATH, load_profile, task_loss


def test_shipped_table_is_what_the_code_regenerates():
    text = render_csv(build_rows(AnalyticProfileModel(), list(ENCODERS)))
    assert text == DEFAULT_PROFILE_PATH.read_text()


def test_clean_accuracy_is_the_published_zero_shot_figure():
    profile = load_profile(DEFAULT_PROFILE_PATH)
    for name, spec in ENCODERS.items():
        clean = profile.lookup("accuracy", [name], np.array([[1000.0]]))[0, 0, 0]
        assert clean == pytest.approx(spec.zero_shot_top1, abs=0.002)


def test_margin_solves_the_accuracy_equation():
    model = AnalyticProfileModel()
    delta = clean_margin(model, 0.7)
    assert top1_accuracy(delta / model.cosine_spread, model.n_classes) == pytest.approx(0.7)


def test_curves_are_monotone_and_larger_encoders_are_better():
    profile = load_profile(DEFAULT_PROFILE_PATH)
    names = list(ENCODERS)
    snr = np.linspace(-20, 40, 61)[None, :]
    acc = profile.lookup("accuracy", names, snr)[0]  # (encoders, snr)
    ce = profile.lookup("cross_entropy", names, snr)[0]
    assert np.all(np.diff(acc, axis=1) >= 0) and np.all(np.diff(ce, axis=1) <= 0)
    assert np.all(acc[2] > acc[0]) and np.all(ce[2] < ce[0])  # ViT-L-14 vs ViT-B-32
    # the 768-d encoder also loses less of its clean accuracy at 0 dB
    drop = 1 - profile.lookup("accuracy", names, np.array([[0.0]]))[0, :, 0] / acc[:, -1]
    assert drop[2] < drop[0]


def test_interpolation_is_linear_in_snr_and_clamped(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text(
        "encoder,snr_db,accuracy,cross_entropy,clip_i2i_similarity,provenance\n"
        "ViT-B-32,10,0.5,2.0,0.7,test\n"
        "ViT-B-32,0,0.1,4.0,0.5,test\n"
    )
    profile = load_profile(path)
    values = profile.lookup("accuracy", ["ViT-B-32"], np.array([[-5.0, 0.0, 5.0, 10.0, 99.0]]))
    np.testing.assert_allclose(values[0, 0], [0.1, 0.1, 0.3, 0.5, 0.5])
    loss = task_loss(profile, "regenerate", ["ViT-B-32"], np.array([[5.0]]))
    assert loss[0, 0, 0] == pytest.approx(1 - 0.6)
    assert profile.provenance["ViT-B-32"] == "test"


@pytest.mark.parametrize(
    "body, key",
    [
        ("encoder,snr_db,accuracy,cross_entropy,provenance\nViT-B-32,0,0.1,1,x\n",
         "clip_i2i_similarity"),
        ("encoder,snr_db,accuracy,cross_entropy,clip_i2i_similarity,provenance\n"
         "ViT-B-32,0,1.5,1,0.5,x\n", "accuracy"),
        ("encoder,snr_db,accuracy,cross_entropy,clip_i2i_similarity,provenance\n"
         "ViT-B-32,0,0.1,1,0.5,x\nViT-B-32,0,0.2,1,0.5,x\n", "snr_db"),
    ],
)
def test_malformed_profiles_name_the_problem(tmp_path, body, key):
    path = tmp_path / "bad.csv"
    path.write_text(body)
    with pytest.raises(ScenarioError, match=key):
        load_profile(path)
