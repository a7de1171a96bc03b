"""Fidelity, utility and privacy metrics on hand-built cases whose right answer is known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synthwright.modalities.image_data import ImageSet
from synthwright.modalities.image_metrics import evaluate_images, frechet_distance
from synthwright.modalities.tabular_metrics import (
    column_shapes,
    evaluate_tabular,
    pair_trends,
    privacy,
)

from ._modality_data import digits, mixed_table, one_thread


@pytest.fixture(autouse=True, scope="module")
def _threads():
    with one_thread():
        yield


@pytest.fixture(scope="module")
def breast_cancer() -> pd.DataFrame:
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    return frame.assign(target=frame["target"].map({0: "malignant", 1: "benign"}))


def test_identical_data_scores_perfectly(breast_cancer):
    real, holdout = breast_cancer.iloc[:400], breast_cancer.iloc[400:]
    s = evaluate_tabular(real, real.sample(frac=1, random_state=0), holdout=holdout, seed=0)
    assert s["quality"]["column_shapes"] == pytest.approx(1.0)
    assert s["quality"]["pair_trends"] == pytest.approx(1.0)
    assert s["detection"]["auc"] <= 0.55 and s["detection"]["score"] >= 0.9
    assert s["utility"]["ratio"] == pytest.approx(1.0, abs=0.03)
    assert s["privacy"]["exact_copy_rate"] == 1.0 and s["privacy"]["holdout_exact_copy_rate"] == 0.0 and s["privacy"]["dcr_synthetic_median"] == 0.0


def test_shuffled_columns_keep_shapes_but_break_pair_trends(breast_cancer):
    rng = np.random.default_rng(0)
    shuffled = breast_cancer.apply(lambda c: c.to_numpy()[rng.permutation(len(c))])
    shapes = column_shapes(breast_cancer, shuffled)
    assert min(shapes.values()) == pytest.approx(1.0)
    trends = pair_trends(breast_cancer, shuffled)
    radius_perimeter = trends["mean radius | mean perimeter"]
    assert radius_perimeter["metric"] == "correlation" and radius_perimeter["real"] > 0.95
    assert radius_perimeter["score"] < 0.6  # ρ ≈ 1 became ρ ≈ 0
    assert trends["mean radius | target"]["metric"] == "contingency"
    assert trends["mean radius | target"]["score"] < 0.8
    s = evaluate_tabular(breast_cancer, shuffled)
    assert s["detection"]["auc"] > 0.9  # the classifier sees the broken joints
    assert s["utility"]["ratio"] < 0.7  # labels no longer follow the features: about coin-flip F1


def test_shifted_numbers_and_skewed_categories_lower_column_shapes():
    real = mixed_table(400)
    fake = real.assign(amount=real["amount"] + 30, group="a")
    shapes = column_shapes(real, fake)
    assert shapes["age"] == pytest.approx(1.0)
    assert shapes["amount"] < 0.6
    assert shapes["group"] == pytest.approx(0.5, abs=0.06)  # TVD = 1 − P(a) ≈ 0.5


def test_privacy_catches_copies_and_passes_fresh_rows():
    train, holdout, fresh = mixed_table(400, seed=0), mixed_table(200, seed=1), mixed_table(200, seed=2)
    copied = privacy(train, holdout, train.sample(200, random_state=0))
    assert copied["exact_copy_rate"] == 1.0 and copied["dcr_synthetic_median"] == 0.0
    assert copied["closer_than_holdout_p5"] == 1.0
    ok = privacy(train, holdout, fresh)
    assert ok["exact_copy_rate"] == 0.0
    assert 0.7 < ok["dcr_synthetic_median"] / ok["dcr_holdout_median"] < 1.4
    assert ok["closer_than_holdout_p5"] < 0.2


def test_half_copied_rows_give_half_copy_rate():
    train, holdout, fresh = mixed_table(400, seed=0), mixed_table(200, seed=1), mixed_table(100, seed=2)
    mix = pd.concat([train.iloc[:100], fresh], ignore_index=True)
    assert privacy(train, holdout, mix)["exact_copy_rate"] == pytest.approx(0.5)


def test_frechet_distance_of_shifted_gaussians():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4000, 4))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    assert frechet_distance(a, a + 2.0) == pytest.approx(16.0, rel=0.01)  # ‖μ shift‖² = 4 × 2²


@pytest.fixture(scope="module")
def digit_set() -> ImageSet:
    return digits(800)


def test_real_images_score_as_real_and_are_caught_as_copies(digit_set):
    s = evaluate_images(digit_set, digit_set, judge_epochs=8)
    assert s["judge"]["real_holdout_accuracy"] > 0.85
    assert s["judge"]["synthetic_accuracy"] > 0.9
    assert s["copies"]["exact_copy_rate"] == 1.0
    assert s["fid"]["synthetic"] < 3 * s["fid"]["real_holdout"] + 1


def test_noise_images_score_badly(digit_set):
    rng = np.random.default_rng(0)
    noise = ImageSet(rng.integers(0, 256, digit_set.images[:300].shape, dtype=np.uint8), digit_set.labels[:300], digit_set.classes)
    s = evaluate_images(digit_set, noise, judge_epochs=8)
    assert s["judge"]["synthetic_accuracy"] < 0.3
    assert s["fid"]["synthetic"] > 10 * s["fid"]["real_holdout"]
    assert s["copies"]["exact_copy_rate"] == 0.0 and s["copies"]["near_copy_rate"] == 0.0
    assert s["copies"]["nn_synthetic_median"] > 2 * s["copies"]["nn_holdout_median"]


def test_mislabelled_images_fail_the_judge(digit_set):
    wrong = ImageSet(digit_set.images, (digit_set.labels + 1) % 10, digit_set.classes)
    s = evaluate_images(digit_set, wrong, judge_epochs=8)
    assert s["judge"]["synthetic_accuracy"] < 0.2
    assert set(s["judge"]["per_class"]) == set(digit_set.classes)
