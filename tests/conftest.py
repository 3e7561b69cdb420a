"""Shared test set-up: everything offline, caches in a per-session temporary folder."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session", autouse=True)
def _isolated_caches(tmp_path_factory):
    """Offline tokenizers and HF caches go to a temporary folder, so tests never touch ~/.cache."""
    root = tmp_path_factory.mktemp("caches")
    previous = {key: os.environ.get(key) for key in ("SAFELLAVA_CACHE", "HF_HOME")}
    os.environ["SAFELLAVA_CACHE"] = str(root / "safellava")
    os.environ["HF_HOME"] = str(root / "hf")
    yield
    for key, value in previous.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def tiny_llava():
    """The `tiny` recipe's model and processor, built once per session (callers must not mutate them)."""
    from safellava.model import build_llava, load_model_recipe

    recipe = load_model_recipe("tiny")
    model, processor = build_llava(recipe, seed=0)
    return recipe, model, processor


@pytest.fixture(scope="session")
def small_world(tmp_path_factory):
    """A small synthetic world (images, stage-1/2 data, PRISM tasks), generated once per session."""
    from safellava.synth import generate_world

    return generate_world(tmp_path_factory.mktemp("world"), seed=0, n_train_images=24, n_eval_images=4)


@pytest.fixture
def no_model(monkeypatch):
    """Fails the test if a run gets as far as building (or loading) a model."""
    import safellava.train.run as run_module

    def refuse(*args, **kwargs):
        raise AssertionError("a model was built although the configuration is bad")

    monkeypatch.setattr(run_module, "initial_model", refuse)
