"""Image loading, DCGAN and conditional VAE: shapes, class conditioning, save/load, seeds, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from synthwright.core.errors import ConfigError
from synthwright.modalities.image_data import ImageSet, load_images, save_images
from synthwright.modalities.images import fit_images, load_image_model, sample_images

from ._modality_data import digits, one_thread

FAST = {"epochs": 1, "batch_size": 64, "progress": False, "device": "cpu"}


@pytest.fixture(autouse=True, scope="module")
def _threads():
    with one_thread():
        yield


@pytest.fixture(scope="module")
def small_digits() -> ImageSet:
    return digits(300)


@pytest.fixture(scope="module")
def digit_folder(tmp_path_factory, small_digits):
    return save_images(small_digits, tmp_path_factory.mktemp("digits") / "train")


def _rgb_folder(root, side=12, per_class=6):
    rng = np.random.default_rng(0)
    for name in ("red", "blue"):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            Image.fromarray(rng.integers(0, 255, (side, side, 3), dtype=np.uint8)).save(root / name / f"{i}.png")
    return root


def test_folder_and_npz_load_the_same_images(tmp_path, digit_folder, small_digits):
    folder = load_images(digit_folder)
    assert folder.images.shape == (300, 8, 8, 1) and folder.images.dtype == np.uint8
    assert folder.classes == small_digits.classes
    order = np.argsort(small_digits.labels, kind="stable")  # the folder is read class by class
    np.testing.assert_array_equal(folder.labels, small_digits.labels[order])
    np.testing.assert_array_equal(folder.images, small_digits.images[order])
    np.savez(tmp_path / "d.npz", x=small_digits.images[..., 0], y=small_digits.labels)
    array = load_images(tmp_path / "d.npz")
    np.testing.assert_array_equal(array.images, small_digits.images)
    assert array.classes == [str(i) for i in range(10)]


def test_rgb_folder_and_resize(tmp_path):
    rgb = load_images(_rgb_folder(tmp_path / "rgb"))
    assert rgb.shape == (12, 12, 3) and rgb.classes == ["blue", "red"]
    assert load_images(tmp_path / "rgb", size=16).shape == (16, 16, 3)
    Image.fromarray(np.zeros((12, 12), np.uint8)).save(tmp_path / "rgb" / "red" / "gray.png")
    mixed = load_images(tmp_path / "rgb")  # one grayscale file among colour ones
    assert mixed.shape == (12, 12, 3) and len(mixed.images) == 13


@pytest.mark.parametrize("model", ["dcgan", "cvae"])
def test_class_conditional_samples_and_grid(tmp_path, digit_folder, model):
    m = fit_images(digit_folder, model=model, out=tmp_path / "m", **FAST)
    three = sample_images(tmp_path / "m", 12, class_name="digit3", out=tmp_path / "s", device="cpu")
    assert three.images.shape == (12, 8, 8, 1) and three.images.dtype == np.uint8
    assert (three.labels == 3).all()
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == ["digit3", "grid.png"]
    assert len(list((tmp_path / "s" / "digit3").glob("*.png"))) == 12
    assert Image.open(tmp_path / "s" / "grid.png").size[0] > 100
    mixed = m.sample(200, seed=1)
    assert len(np.unique(mixed.labels)) == 10  # classes drawn at the training mix


@pytest.mark.parametrize("model", ["dcgan", "cvae"])
def test_odd_sized_rgb_images(tmp_path, model):
    m = fit_images(_rgb_folder(tmp_path / "rgb"), model=model, **FAST)
    out = m.sample(5, label=1)
    assert out.images.shape == (5, 12, 12, 3)


@pytest.mark.parametrize("model", ["dcgan", "cvae"])
def test_save_load_and_seeds(tmp_path, small_digits, model):
    a = fit_images(small_digits, model=model, out=tmp_path / "a", seed=3, **FAST)
    b = fit_images(small_digits, model=model, seed=3, **FAST)
    loaded = load_image_model(tmp_path / "a", device="cpu")
    np.testing.assert_array_equal(a.sample(16, seed=2).images, loaded.sample(16, seed=2).images)
    np.testing.assert_array_equal(a.sample(16, seed=2).images, b.sample(16, seed=2).images)
    assert not np.array_equal(a.sample(16, seed=2).images, a.sample(16, seed=4).images)


def test_npz_output(tmp_path, small_digits):
    m = fit_images(small_digits, model="cvae", **FAST)
    sample_images(m, 10, out=tmp_path / "s.npz")
    back = load_images(tmp_path / "s.npz")
    assert back.images.shape == (10, 8, 8, 1) and back.classes == small_digits.classes


def test_bad_image_input(tmp_path, small_digits):
    (tmp_path / "flat").mkdir()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "flat" / "a.png")
    with pytest.raises(ConfigError, match="no class subfolders"):
        load_images(tmp_path / "flat")
    with pytest.raises(ConfigError, match="does not exist"):
        fit_images(tmp_path / "nowhere")
    (tmp_path / "big" / "x").mkdir(parents=True)
    Image.fromarray(np.zeros((100, 100), np.uint8)).save(tmp_path / "big" / "x" / "a.png")
    with pytest.raises(ConfigError, match="--size"):
        load_images(tmp_path / "big")
    with pytest.raises(ConfigError, match="Unknown image model"):
        fit_images(small_digits, model="diffusion")
    m = fit_images(small_digits, model="cvae", **FAST)
    with pytest.raises(ConfigError, match="not one the model knows"):
        sample_images(m, 3, class_name="cat")
