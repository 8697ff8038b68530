"""Downstream tabular models: FT-Transformer with text tokens, MLP, LightGBM and TF-IDF."""

import itertools

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from pydantic import TypeAdapter, ValidationError
from rtdl_revisiting_models import FTTransformer

from tunebench.families.tabular.models import DOWNSTREAM_MODELS, AnyDownstreamConfig
from tunebench.families.tabular.models.ft_transformer import (
    ATTENTION_N_HEADS,
    FFN_D_HIDDEN_MULTIPLIER,
    FTTransformerConfig,
    FTTransformerWithText,
    make_optimizer,
    make_parameter_groups,
)
from tunebench.families.tabular.models.gbdt import GBDTConfig, fit_gbdt, predict, tfidf_features
from tunebench.families.tabular.models.mlp import MLPConfig, MLPWithText

TINY_FT = FTTransformerConfig(n_blocks=1, d_block=16)
TINY_MLP = MLPConfig(n_blocks=1, d_block=16)
CARDS = [4, 3]
TEXT_DIMS = [5, 7]
TORCH_MODELS = [(FTTransformerWithText, TINY_FT), (MLPWithText, TINY_MLP)]


def batch(n_num: int, cards: list[int], text_dims: list[int], size: int = 6, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x_num = torch.randn(size, n_num, generator=g)
    columns = [torch.randint(0, c, (size, 1), generator=g) for c in cards]
    x_cat = torch.cat(columns, 1) if cards else torch.zeros(size, 0, dtype=torch.int64)
    texts = [torch.randn(size, d, generator=g) for d in text_dims]
    return x_num, x_cat, texts


def build(cls, config, n_num, cards, text_dims, d_out=1):
    torch.manual_seed(0)
    return cls(config, n_num=n_num, cat_cardinalities=cards, text_dims=text_dims, d_out=d_out)


FEATURE_SETS = [(3, [], []), (0, CARDS, []), (0, [], TEXT_DIMS), (3, CARDS, TEXT_DIMS)]


@pytest.mark.parametrize(("cls", "config"), TORCH_MODELS)
@pytest.mark.parametrize(("n_num", "cards", "text_dims"), FEATURE_SETS)
@pytest.mark.parametrize("d_out", [1, 3])
def test_output_shape(cls, config, n_num, cards, text_dims, d_out):
    model = build(cls, config, n_num, cards, text_dims, d_out)
    assert model(*batch(n_num, cards, text_dims)).shape == (6, d_out)


@pytest.mark.parametrize(("n_num", "cards", "text_dims"), FEATURE_SETS)
def test_backbone_sees_one_token_per_feature_and_text_column(n_num, cards, text_dims):
    model = build(FTTransformerWithText, TINY_FT, n_num, cards, text_dims)
    seen = []
    model.backbone.register_forward_pre_hook(lambda _, args: seen.append(args[0].shape))
    model(*batch(n_num, cards, text_dims))
    expected = 1 + n_num + len(cards) + len(text_dims)
    assert seen == [torch.Size([6, expected, TINY_FT.d_block])]
    assert model.n_tokens == expected


@pytest.mark.parametrize(("cls", "config"), TORCH_MODELS)
def test_gradients_reach_text_projection_and_text_embeddings(cls, config):
    model = build(cls, config, 2, CARDS, TEXT_DIMS)
    x_num, x_cat, texts = batch(2, CARDS, TEXT_DIMS)
    texts = [t.requires_grad_() for t in texts]
    model(x_num, x_cat, texts).sum().backward()
    assert all(t.grad is not None and t.grad.abs().sum() > 0 for t in texts)
    if cls is FTTransformerWithText:
        for projection in model.text_projections:
            assert projection.weight.grad.abs().sum() > 0


def test_low_precision_text_embeddings_are_cast():
    model = build(FTTransformerWithText, TINY_FT, 0, [], [5])
    text = torch.randn(4, 5, dtype=torch.bfloat16, requires_grad=True)
    out = model(torch.zeros(4, 0), torch.zeros(4, 0, dtype=torch.int64), [text])
    out.sum().backward()
    assert out.dtype == torch.float32 and text.grad.dtype == torch.bfloat16


def test_text_projection_parameter_count():
    model = build(FTTransformerWithText, TINY_FT, 2, CARDS, TEXT_DIMS)
    count = sum(p.numel() for p in model.text_projections.parameters())
    assert count == sum(d * 16 + 16 for d in TEXT_DIMS)


@pytest.mark.parametrize(("cls", "config"), TORCH_MODELS)
def test_no_features_is_an_error(cls, config):
    with pytest.raises(ValueError, match="at least one"):
        build(cls, config, 0, [], [])


@pytest.mark.parametrize(("cls", "config"), TORCH_MODELS)
def test_wrong_input_widths_are_errors(cls, config):
    model = build(cls, config, 2, CARDS, TEXT_DIMS)
    x_num, x_cat, texts = batch(2, CARDS, TEXT_DIMS)
    with pytest.raises(ValueError, match="numeric"):
        model(x_num[:, :1], x_cat, texts)
    with pytest.raises(ValueError, match="text embeddings"):
        model(x_num, x_cat, texts[:1])


def test_mlp_input_width():
    model = build(MLPWithText, TINY_MLP, 2, CARDS, TEXT_DIMS)
    expected = 2 + sum(CARDS) + sum(TEXT_DIMS)
    assert model.d_in == expected
    assert model.mlp.blocks[0].linear.in_features == expected


def test_defaults_are_rtdls_default_ft_transformer():
    rtdl = FTTransformer.get_default_kwargs()
    config = FTTransformerConfig()
    for key in ("n_blocks", "d_block", "attention_dropout", "ffn_dropout", "residual_dropout"):
        assert getattr(config, key) == rtdl[key], key
    assert rtdl["attention_n_heads"] == ATTENTION_N_HEADS
    assert rtdl["ffn_d_hidden_multiplier"] == FFN_D_HIDDEN_MULTIPLIER
    with pytest.raises(ValidationError, match="multiple of 8"):
        FTTransformerConfig(d_block=20)
    with pytest.raises(ValidationError):
        FTTransformerConfig(n_head=4)


def test_parameter_groups_match_rtdl_and_exclude_text_projection_from_decay():
    ours = build(FTTransformerWithText, TINY_FT, 2, CARDS, [])
    theirs = FTTransformer(
        n_cont_features=2,
        cat_cardinalities=CARDS,
        d_out=1,
        n_blocks=1,
        d_block=16,
        attention_n_heads=8,
        attention_dropout=0.2,
        ffn_d_hidden=None,
        ffn_d_hidden_multiplier=4 / 3,
        ffn_dropout=0.1,
        residual_dropout=0.0,
    )

    def sizes(groups):
        return [sorted(p.numel() for p in group["params"]) for group in groups]

    assert sizes(make_parameter_groups(ours)) == sizes(theirs.make_parameter_groups())

    with_text = build(FTTransformerWithText, TINY_FT, 2, CARDS, TEXT_DIMS)
    decay, no_decay = make_parameter_groups(with_text)
    no_decay_ids = {id(p) for p in no_decay["params"]}
    assert no_decay["weight_decay"] == 0.0 and "weight_decay" not in decay
    assert all(id(p) in no_decay_ids for p in with_text.text_projections.parameters())
    assert len(decay["params"]) + len(no_decay["params"]) == len(list(with_text.parameters()))
    optimizer = make_optimizer(with_text)
    assert optimizer.defaults["lr"] == 1e-4 and optimizer.defaults["weight_decay"] == 1e-5


@pytest.mark.parametrize(("cls", "config"), TORCH_MODELS)
def test_a_few_steps_lower_a_toy_regression_loss(cls, config):
    x_num, x_cat, texts = batch(2, CARDS, TEXT_DIMS, size=64, seed=1)
    y = x_num[:, :1] - texts[0][:, :1] + (x_cat[:, :1] == 2).float()
    model = build(cls, config, 2, CARDS, TEXT_DIMS)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)

    def loss() -> torch.Tensor:
        return torch.nn.functional.mse_loss(model(x_num, x_cat, texts), y)

    model.eval()
    with torch.no_grad():
        before = loss().item()
    model.train()
    for _ in range(30):
        optimizer.zero_grad()
        loss().backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        assert loss().item() < 0.7 * before


def test_registry_lists_and_builds_by_name():
    assert set(DOWNSTREAM_MODELS) == {"ft_transformer", "mlp", "gbdt"}
    adapter = TypeAdapter(AnyDownstreamConfig)
    for name in ("ft_transformer", "mlp"):
        config = adapter.validate_python({"name": name, "d_block": 16, "n_blocks": 1})
        entry = DOWNSTREAM_MODELS[name]
        assert isinstance(config, entry.config)
        model = entry.build(config, n_num=1, cat_cardinalities=[3], text_dims=[4], d_out=2)
        assert model(*batch(1, [3], [4])).shape == (6, 2)
    gbdt = adapter.validate_python({"name": "gbdt", "seed": 3})
    assert isinstance(gbdt, GBDTConfig) and DOWNSTREAM_MODELS["gbdt"].module_class is None


# ---- trees ------------------------------------------------------------------------------

TREES = GBDTConfig(num_threads=1, n_estimators=300, learning_rate=0.1)


def tree_split(n: int, seed: int, problem: str) -> dict:
    """y depends on a numeric column, a text-embedding column and a categorical code."""
    rng = np.random.default_rng(seed)
    x_num = rng.normal(size=(n, 2)).astype(np.float32)
    x_cat = rng.integers(0, 5, size=(n, 1))
    text = rng.normal(size=(n, 3)).astype(np.float32)
    signal = np.sin(2 * x_num[:, 0]) + text[:, 1] + 1.5 * np.isin(x_cat[:, 0], [1, 3])
    if problem == "regression":
        y = signal
    else:
        y = np.digitize(signal, np.quantile(signal, [1 / 3, 2 / 3]))
    return {"x_num": x_num, "x_cat": x_cat, "texts": [text], "y": y}


def categorical_split_features(model) -> set[str]:
    dump = model.booster.dump_model()
    names = dump["feature_names"]
    found = set()

    def walk(node):
        if "split_feature" in node:
            if node["decision_type"] == "==":
                found.add(names[node["split_feature"]])
            walk(node["left_child"])
            walk(node["right_child"])

    for tree in dump["tree_info"]:
        walk(tree["tree_structure"])
    return found


def test_gbdt_regression_quality_early_stopping_and_categorical():
    train, valid, test = (tree_split(n, s, "regression") for n, s in [(800, 0), (300, 1), (300, 2)])
    model = fit_gbdt(TREES, "regression", train, valid)
    pred = predict(model, test)
    assert pred.shape == (300,)
    r2 = 1 - np.mean((pred - test["y"]) ** 2) / np.var(test["y"])
    assert r2 > 0.8
    # Stopped early; lightgbm.train keeps only the trees up to the best iteration.
    assert 0 < model.booster.best_iteration == model.booster.num_trees() < TREES.n_estimators
    assert categorical_split_features(model) == {"cat_0"}


def test_gbdt_three_classes():
    train, valid, test = (tree_split(n, s, "clf") for n, s in [(900, 0), (300, 1), (300, 2)])
    model = fit_gbdt(TREES, "classification", train, valid, n_classes=3)
    proba = predict(model, test)
    assert proba.shape == (300, 3)
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-6)
    assert np.mean(proba.argmax(1) == test["y"]) > 0.6  # chance is 1/3


def test_gbdt_binary_returns_two_columns():
    train, valid = (tree_split(n, s, "clf") for n, s in [(400, 0), (200, 1)])
    for split in (train, valid):
        split["y"] = (split["y"] == 2).astype(int)
    proba = predict(fit_gbdt(TREES, "classification", train, valid, n_classes=2), valid)
    assert proba.shape == (200, 2)
    np.testing.assert_allclose(proba.sum(1), 1.0)
    assert np.mean(proba.argmax(1) == valid["y"]) > 0.8


def test_gbdt_is_deterministic_for_a_seed():
    train, valid = (tree_split(n, s, "regression") for n, s in [(400, 0), (200, 1)])
    config = TREES.model_copy(update={"n_estimators": 40})
    first, second = (predict(fit_gbdt(config, "regression", train, valid), valid) for _ in "ab")
    assert np.array_equal(first, second)


def test_gbdt_problem_and_classes_must_agree():
    train = tree_split(50, 0, "regression")
    with pytest.raises(ValueError, match="n_classes"):
        fit_gbdt(TREES, "regression", train, train, n_classes=3)
    with pytest.raises(ValueError, match="n_classes"):
        fit_gbdt(TREES, "classification", train, train)


# ---- TF-IDF -----------------------------------------------------------------------------

WORDS = ["red", "blue", "green", "cheap", "dear", "soft", "hard", "new", "old", "big"]


def test_tfidf_is_fitted_on_train_only():
    train, test = tfidf_features(["red shoe", "blue shoe", "red hat"], ["zebra", "red zebra"])
    assert train.shape[1] == test.shape[1] == 4  # blue hat red shoe
    assert test[0].nnz == 0  # "zebra" occurs only in test: no column
    assert test[1].nnz == 1
    assert sp.issparse(train) and train.dtype == np.float32
    assert tfidf_features(WORDS, max_features=3)[0].shape == (10, 3)


def test_gbdt_on_sparse_tfidf_keeps_categorical_features():
    rng = np.random.default_rng(0)

    def split(n):
        x_cat = rng.integers(0, 4, size=(n, 1))
        words = [" ".join(rng.choice(WORDS, 3)) for _ in range(n)]
        y = 2.0 * (x_cat[:, 0] == 2) + np.array([("cheap" in w) - ("dear" in w) for w in words])
        return x_cat, words, y

    (c_tr, w_tr, y_tr), (c_va, w_va, y_va) = split(600), split(200)
    tf_tr, tf_va = tfidf_features(w_tr, w_va)
    empty = np.zeros((0, 0), dtype=np.float32)
    train = {"x_num": empty.reshape(600, 0), "x_cat": c_tr, "texts": [tf_tr], "y": y_tr}
    valid = {"x_num": empty.reshape(200, 0), "x_cat": c_va, "texts": [tf_va], "y": y_va}
    model = fit_gbdt(TREES, "regression", train, valid)
    pred = predict(model, valid)
    assert 1 - np.mean((pred - y_va) ** 2) / np.var(y_va) > 0.8
    assert "cat_0" in categorical_split_features(model)
    assert model.booster.feature_name()[:2] == ["cat_0", "text0_0"]


def test_every_feature_combination_of_the_tree_inputs():
    base = tree_split(300, 0, "regression")
    for use_num, use_cat, use_text in itertools.product([False, True], repeat=3):
        if not (use_num or use_cat or use_text):
            continue
        data = {
            "x_num": base["x_num"][:, : 2 * use_num],
            "x_cat": base["x_cat"][:, : 1 * use_cat],
            "texts": base["texts"] if use_text else [],
            "y": base["y"],
        }
        model = fit_gbdt(TREES.model_copy(update={"n_estimators": 5}), "regression", data, data)
        assert predict(model, data).shape == (300,)
        n_features = 2 * use_num + use_cat + 3 * use_text
        assert model.booster.num_feature() == n_features
