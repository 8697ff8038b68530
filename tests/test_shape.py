"""A backbone's shape (module names, blocks) for the checks before training: built once on the
meta device, then read from the cache; the mistakes locate.py finds need no model code."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tunebench.errors import UserError
from tunebench.models import shape as shapes
from tunebench.models.locate import config_file


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TUNEBENCH_CACHE", str(tmp_path / "cache"))
    shapes.backbone_shape.cache_clear()
    yield tmp_path / "cache" / "shapes"
    shapes.backbone_shape.cache_clear()


def test_the_shape_is_built_once_then_read_from_the_cache(tiny_assets, cache, monkeypatch):
    lm = str(tiny_assets / "lm")
    built = shapes.backbone_shape(lm)
    assert built.blocks == 2 and "q_proj" in built.weight_layers
    assert any(name.endswith("self_attn.q_proj") for name in built.modules)
    assert len(list(cache.glob("*.json"))) == 1
    shapes.backbone_shape.cache_clear()
    monkeypatch.setattr(shapes, "_built", lambda *a: pytest.fail("built again, not cached"))
    assert shapes.backbone_shape(lm) == built


def test_a_changed_config_is_a_new_shape(tiny_assets, cache, tmp_path):
    import shutil

    copy = tmp_path / "lm"
    shutil.copytree(tiny_assets / "lm", copy)
    assert shapes.backbone_shape(str(copy)).blocks == 2
    config = (
        (copy / "config.json")
        .read_text()
        .replace('"num_hidden_layers": 2', '"num_hidden_layers": 3')
    )
    (copy / "config.json").write_text(config)
    shapes.backbone_shape.cache_clear()
    assert shapes.backbone_shape(str(copy)).blocks == 3


def test_remote_code_is_never_read_from_the_cache(tiny_assets, cache, monkeypatch):
    calls = []
    real = shapes._built
    monkeypatch.setattr(shapes, "_built", lambda *a: calls.append(a) or real(*a))
    shapes.backbone_shape(str(tiny_assets / "lm"), True)
    shapes.backbone_shape.cache_clear()
    shapes.backbone_shape(str(tiny_assets / "lm"), True)
    assert len(calls) == 2 and not cache.exists()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("{tmp}/no-model", "not a packaged alias"),
        ("{tmp}", "is not a model folder (no config.json in it)"),
        ("nobody/no-such-model-anywhere", "the Hugging Face Hub does not answer"),
        ("not a hub id!", "not a packaged alias"),
    ],
)
def test_backbone_mistakes_found_without_the_model_code(name, expected, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(UserError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        config_file(name.replace("{tmp}", str(tmp_path)))


def test_checking_a_cached_shape_imports_neither_torch_nor_model_code(tiny_assets, cache):
    """What keeps a study's mistakes under a few seconds: transformers' model code is ~10 s."""
    lm = str(tiny_assets / "lm")
    shapes.backbone_shape(lm)
    probe = (
        "import sys; from tunebench.models.shape import backbone_shape; "
        f"backbone_shape({lm!r}); print('torch' in sys.modules, 'transformers' in sys.modules)"
    )
    env = {**os.environ, "TUNEBENCH_CACHE": str(cache.parent), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True)
    assert done.stdout.split() == ["False", "False"], done.stderr
