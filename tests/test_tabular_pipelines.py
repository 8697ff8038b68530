"""One-step and two-step internals on tiny models: text tokens reach the downstream model, the
gradients go where each pipeline says, missing texts become zero vectors, batches are built
from tokenised tables."""

from dataclasses import replace

import numpy as np
import pytest
import torch
from transformers import BertTokenizerFast

from tunebench.families.tabular.data import TabularData, TabularSplit
from tunebench.families.tabular.embeddings import encode_with
from tunebench.families.tabular.frozen import embed_table
from tunebench.families.tabular.joint import JointModel, TableCollator, TextHead, tokenise_table
from tunebench.families.tabular.models import DOWNSTREAM_MODELS, FTTransformerConfig, MLPConfig
from tunebench.methods import METHODS
from tunebench.models.blocks import freeze
from tunebench.models.heads import TextEncoder

from tiny import tiny_bert, tiny_llama

WORDS = ["good", "bad", "fine", "poor", "great"]
CARDS = [4, 3]  # two categorical features
HIDDEN = 32  # tiny_bert / tiny_llama width


def toy_split(n: int, seed: int) -> TabularSplit:
    """Two numeric, two categorical and two text columns; every 3rd title and 4th review empty."""
    rng = np.random.default_rng(seed)
    numeric = rng.normal(size=(n, 2)).astype(np.float32)
    categorical = np.stack([rng.integers(0, c, size=n) for c in CARDS], axis=1).astype(np.int64)
    titles = [str(rng.choice(WORDS)) if i % 3 else "" for i in range(n)]
    reviews = [" ".join(rng.choice(WORDS, size=1 + i % 5)) if i % 4 else "" for i in range(n)]
    target = (numeric[:, 0] * 2 + 5).astype(np.float32)
    ids = list(range(len(target)))
    return TabularSplit(numeric, categorical, {"title": titles, "review": reviews}, target, ids)


@pytest.fixture
def tokenizer(tmp_path) -> BertTokenizerFast:
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", *WORDS]))
    return BertTokenizerFast(vocab=str(vocab))


@pytest.fixture
def data() -> TabularData:
    train, validation, test = toy_split(24, 0), toy_split(12, 1), toy_split(12, 2)
    mean, std = float(train.target.mean()), float(train.target.std())
    return TabularData(
        "toy",
        "regression",
        ["x0", "x1"],
        ["c0", "c1"],
        CARDS,
        ["title", "review"],
        None,
        mean,
        std,
        train,
        validation,
        test,
        "sha",
    )


def ft_transformer(n_texts: int = 2, d_out: int = 1):
    return tiny_downstream(FTTransformerConfig(n_blocks=1, d_block=32), n_texts, d_out)


def mlp(n_texts: int = 2, d_out: int = 1):
    return tiny_downstream(MLPConfig(n_blocks=1, d_block=16), n_texts, d_out)


def tiny_downstream(config, n_texts: int, d_out: int):
    torch.manual_seed(0)
    return DOWNSTREAM_MODELS[config.name].build(
        config, n_num=2, cat_cardinalities=CARDS, text_dims=[HIDDEN] * n_texts, d_out=d_out
    )


def joint_batch(size: int = 4, length: int = 6, n_texts: int = 2) -> dict[str, torch.Tensor]:
    """Features, regression labels and right-padded ids per text column (row 0 shorter)."""
    generator = torch.Generator().manual_seed(1)
    batch = {
        "x_num": torch.randn(size, 2, generator=generator),
        "x_cat": torch.stack(
            [torch.randint(0, c, (size,), generator=generator) for c in CARDS], dim=1
        ),
        "labels": torch.randn(size, generator=generator),
    }
    for j in range(n_texts):
        ids = torch.randint(1, 100, (size, length), generator=generator)
        mask = torch.ones_like(ids)
        ids[0, -2:], mask[0, -2:] = 0, 0
        batch[f"input_ids_{j}"], batch[f"attention_mask_{j}"] = ids, mask
    return batch


def texts_seen_by(downstream: torch.nn.Module) -> list[list[torch.Tensor]]:
    """Records the text embeddings each forward of `downstream` receives."""
    seen: list[list[torch.Tensor]] = []
    downstream.register_forward_pre_hook(lambda module, args: seen.append(list(args[2])))
    return seen


# --- 1. text tokens in the downstream model -------------------------------------------------


def test_joint_model_feeds_one_token_per_text_column_to_the_ft_transformer():
    downstream = ft_transformer(n_texts=2, d_out=3)
    model = JointModel(TextEncoder(tiny_bert(), "mean"), downstream, "classification", 2)
    tokens = []
    downstream.backbone.register_forward_pre_hook(lambda m, args: tokens.append(args[0].shape))
    batch = joint_batch(size=5)
    batch["labels"] = torch.tensor([0, 1, 2, 0, 1])
    output = model(**batch)
    assert output.logits.shape == (5, 3)
    assert downstream.n_tokens == 1 + 2 + 2 + 2  # [CLS] + numeric + categorical + text columns
    assert tokens == [(5, downstream.n_tokens, 32)]
    assert torch.isfinite(output.loss)
    without_labels = model(**{k: v for k, v in batch.items() if k != "labels"})
    assert without_labels.loss is None


def test_each_text_column_gets_its_own_embedding():
    downstream = mlp()
    model = JointModel(TextEncoder(tiny_bert(), "mean"), downstream, "regression", 2).eval()
    seen = texts_seen_by(downstream)
    batch = joint_batch()
    model(**batch)
    [(title, review)] = seen
    assert title.shape == review.shape == (4, HIDDEN)
    assert not torch.allclose(title, review)  # different ids -> different vectors
    expected = model.encoder(
        input_ids=batch["input_ids_1"], attention_mask=batch["attention_mask_1"]
    )
    torch.testing.assert_close(review, expected)


# --- 2. where the gradients go ----------------------------------------------------------------


def test_one_step_gradients_reach_lora_and_downstream_but_not_frozen_backbone_weights():
    torch.manual_seed(0)
    method = METHODS["lora"]
    encoder = method.apply(TextEncoder(tiny_bert(), "mean"), method.config(), "")
    lora = {n: p for n, p in encoder.named_parameters() if "lora_" in n}
    assert lora and all(p.requires_grad for p in lora.values())
    with torch.no_grad():  # as after one update: with B = 0 (peft's init) A gets no gradient
        for name, parameter in lora.items():
            if "lora_B" in name:
                parameter.normal_(std=0.1)
    downstream = ft_transformer()
    model = JointModel(encoder, downstream, "regression", 2).train()
    model(**joint_batch()).loss.backward()

    for name, parameter in lora.items():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name
    frozen = [(n, p) for n, p in encoder.named_parameters() if "lora_" not in n]
    assert frozen and all(not p.requires_grad and p.grad is None for _, p in frozen)
    for name, parameter in downstream.named_parameters():
        assert parameter.grad is not None, name
    for projection in downstream.text_projections:
        assert projection.weight.grad.abs().sum() > 0


def test_frozen_pipeline_trains_only_the_downstream_model(data, tokenizer, tmp_path):
    encoder = TextEncoder(tiny_bert(), "mean")
    freeze(encoder)
    features, _ = embed_table(data, encoder, tokenizer, "mean", 16, tmp_path / "cache")
    downstream = ft_transformer()
    x_num, x_cat, texts = features["train"].batch(np.arange(8))
    assert all(not text.requires_grad for text in texts)
    target = torch.from_numpy(features["train"].target[:8])
    loss = torch.nn.functional.mse_loss(downstream(x_num, x_cat, texts).squeeze(-1), target)
    loss.backward()
    assert all(p.grad is None for p in encoder.parameters())
    assert all(p.grad is not None for p in downstream.parameters())
    assert sum(p.grad.abs().sum() for p in downstream.parameters()) > 0


def test_two_step_step1_trains_the_encoder_through_a_text_only_head():
    encoder = TextEncoder(tiny_bert(), "mean")
    head = TextHead([HIDDEN, HIDDEN], d_out=1)
    model = JointModel(encoder, head, "regression", 2).train()
    batch = joint_batch()
    model(**batch).loss.backward()
    assert head.linear.weight.shape == (1, 2 * HIDDEN)
    assert all(p.grad is not None for p in encoder.parameters() if p.requires_grad)
    # The head reads the texts alone: changing the tabular features changes nothing.
    model.eval()
    before = model(**batch).logits
    batch["x_num"] = batch["x_num"] + 100
    torch.testing.assert_close(model(**batch).logits, before)


# --- 3. missing texts ---------------------------------------------------------------------


def test_a_missing_text_is_a_zero_vector_and_does_not_change_the_other_rows():
    encoder = TextEncoder(tiny_bert(), "mean").eval()
    downstream = mlp()
    model = JointModel(encoder, downstream, "regression", 2).eval()
    seen = texts_seen_by(downstream)
    masks = []
    encoder.register_forward_pre_hook(
        lambda module, args, kwargs: masks.append(kwargs["attention_mask"]), with_kwargs=True
    )
    batch = joint_batch()
    batch["attention_mask_0"][2] = 0  # row 2 has no title
    batch["input_ids_0"][2] = 0
    output = model(**batch)
    # The backbone never sees an all-masked row (NaN-prone attention): one pad token stands in.
    assert masks[0].sum(dim=1).tolist() == [4, 6, 1, 6]
    assert batch["attention_mask_0"][2].sum() == 0  # the caller's mask is left as it was
    [(title, _)] = seen
    assert torch.all(title[2] == 0)
    assert torch.all(title[[0, 1, 3]].abs().sum(dim=1) > 0)
    for row in (0, 1, 3):
        alone = encoder(
            input_ids=batch["input_ids_0"][row : row + 1],
            attention_mask=batch["attention_mask_0"][row : row + 1],
        )
        torch.testing.assert_close(title[row : row + 1], alone)
    assert torch.isfinite(output.logits).all() and torch.isfinite(output.loss)


def test_a_batch_with_a_whole_column_missing_still_trains():
    encoder = TextEncoder(tiny_bert(), "mean")
    calls = []
    encoder.register_forward_hook(lambda module, args, output: calls.append(output.shape))
    downstream = ft_transformer()
    model = JointModel(encoder, downstream, "regression", 2).train()
    seen = texts_seen_by(downstream)
    batch = joint_batch()
    batch["input_ids_1"] = torch.zeros((4, 1), dtype=torch.long)  # as TableCollator pads []
    batch["attention_mask_1"] = torch.zeros((4, 1), dtype=torch.long)
    output = model(**batch)
    output.loss.backward()
    [(title, review)] = seen
    assert review.shape == (4, HIDDEN) and torch.all(review == 0)
    assert title.abs().sum() > 0
    assert calls == [(4, HIDDEN)]  # the backbone ran for the title column only
    assert torch.isfinite(output.loss)
    assert downstream.text_projections[0].weight.grad.abs().sum() > 0


# --- 4. tokenised tables and their batches ------------------------------------------------------


def test_tokenise_table_keeps_ids_per_column_and_missing_texts_empty(data, tokenizer):
    table = tokenise_table(data, data.train, tokenizer, max_length=4)
    assert len(table) == 24 and len(table.ids) == 2
    for j, column in enumerate(data.text_columns):
        for i, text in enumerate(data.train.texts[column]):
            if text:
                expected = tokenizer(text, truncation=True, max_length=4)["input_ids"]
                assert table.ids[j][i] == expected
                assert len(table.ids[j][i]) <= 4
            else:
                assert table.ids[j][i] == []
    assert any(len(row) == 4 for row in table.ids[1])  # long reviews were truncated
    assert table.lengths() == [len(table.ids[0][i]) + len(table.ids[1][i]) for i in range(24)]
    standardised = (data.train.target - data.target_mean) / data.target_std
    np.testing.assert_allclose(table.targets, standardised, rtol=1e-5, atol=1e-6)
    assert abs(table.targets.mean()) < 1e-5 and table.targets.std() == pytest.approx(1, abs=1e-5)
    np.testing.assert_array_equal(table.raw_target, data.train.target)


def test_tokenise_table_uses_the_datas_target_scale_on_every_split(data, tokenizer):
    table = tokenise_table(data, data.test, tokenizer, max_length=8)
    expected = (data.test.target - data.target_mean) / data.target_std  # train's mean and std
    np.testing.assert_allclose(table.targets, expected, rtol=1e-5, atol=1e-6)
    assert abs(table.targets.mean()) > 1e-3  # not re-standardised with the test split's own


def test_a_split_with_no_text_in_a_column_tokenises_to_empty_rows(data, tokenizer):
    split = data.validation
    texts = {**split.texts, "title": [""] * len(split)}  # every title of the split missing
    untitled = TabularSplit(split.numeric, split.categorical, texts, split.target, split.ids)
    table = tokenise_table(data, untitled, tokenizer, max_length=8)
    assert table.ids[0] == [[] for _ in range(len(split))]
    assert table.ids[1][1] == tokenizer(texts["review"][1])["input_ids"]


def test_classification_targets_stay_class_ids(data, tokenizer):
    split = data.train
    labels = (split.numeric[:, 0] > 0).astype(np.int64)
    classed = TabularSplit(split.numeric, split.categorical, split.texts, labels, split.ids)
    classification = replace(
        data,
        problem="classification",
        label_names=["no", "yes"],
        target_mean=None,
        target_std=None,
        train=classed,
    )
    table = tokenise_table(classification, classed, tokenizer, max_length=8)
    assert table.targets.dtype == np.int64
    np.testing.assert_array_equal(table.targets, labels)


def test_collator_pads_each_column_and_masks_missing_texts(data, tokenizer):
    table = tokenise_table(data, data.train, tokenizer, max_length=8)
    rows = [0, 1, 4, 5]  # row 0: no title and no review; row 4: no review
    batch = TableCollator(table, tokenizer.pad_token_id)(rows)
    assert set(batch) == {
        "x_num",
        "x_cat",
        "labels",
        "input_ids_0",
        "attention_mask_0",
        "input_ids_1",
        "attention_mask_1",
    }
    np.testing.assert_array_equal(batch["x_num"].numpy(), data.train.numeric[rows])
    np.testing.assert_array_equal(batch["x_cat"].numpy(), data.train.categorical[rows])
    np.testing.assert_allclose(batch["labels"].numpy(), table.targets[rows])
    for j in range(2):
        ids, mask = batch[f"input_ids_{j}"], batch[f"attention_mask_{j}"]
        assert ids.shape == mask.shape == (4, max(len(table.ids[j][i]) for i in rows))
        for r, i in enumerate(rows):
            n = len(table.ids[j][i])
            assert ids[r, :n].tolist() == table.ids[j][i]
            assert mask[r].tolist() == [1] * n + [0] * (ids.shape[1] - n)
            assert torch.all(ids[r, n:] == tokenizer.pad_token_id)
    assert not batch["attention_mask_0"][0].any() and not batch["attention_mask_1"][0].any()
    assert not batch["attention_mask_1"][2].any()  # row 4 has no review


def test_collated_batch_with_an_empty_column_runs_through_the_joint_model(data, tokenizer):
    table = tokenise_table(data, data.train, tokenizer, max_length=8)
    no_review = [i for i, text in enumerate(data.train.texts["review"]) if not text]
    batch = TableCollator(table, tokenizer.pad_token_id)(no_review)
    assert batch["attention_mask_1"].shape == (len(no_review), 1)
    assert not batch["attention_mask_1"].any()
    downstream = mlp()
    seen = texts_seen_by(downstream)
    model = JointModel(TextEncoder(tiny_bert(), "mean"), downstream, "regression", 2)
    output = model(**batch)
    assert output.logits.shape == (len(no_review), 1) and torch.isfinite(output.loss)
    assert torch.all(seen[0][1] == 0)


def test_frozen_and_joint_embeddings_agree_for_the_same_encoder(data, tokenizer):
    """The joint path's per-row embeddings are the frozen pipeline's (zero for missing texts)."""
    encoder = TextEncoder(tiny_bert(), "mean").eval()
    table = tokenise_table(data, data.validation, tokenizer, max_length=8)
    rows = list(range(len(table)))
    downstream = mlp()
    seen = texts_seen_by(downstream)
    JointModel(encoder, downstream, "regression", 2).eval()(
        **TableCollator(table, tokenizer.pad_token_id)(rows)
    )
    encode = encode_with(encoder, tokenizer, max_length=8)
    for j, column in enumerate(data.text_columns):
        texts = data.validation.texts[column]
        present = [i for i, text in enumerate(texts) if text]
        expected = torch.from_numpy(encode([texts[i] for i in present]))
        torch.testing.assert_close(seen[0][j][present], expected, rtol=1e-4, atol=1e-5)
        missing = [i for i, text in enumerate(texts) if not text]
        assert missing and torch.all(seen[0][j][missing] == 0)


# --- 5. decoders and prompt tuning --------------------------------------------------------


def test_a_decoder_with_prompt_tuning_trains_jointly():
    torch.manual_seed(0)
    method = METHODS["prompt"]
    encoder = method.apply(
        TextEncoder(tiny_llama(), "last"), method.config(num_virtual_tokens=4), ""
    )
    downstream = ft_transformer(d_out=2)
    model = JointModel(encoder, downstream, "classification", 2).train()
    seen = texts_seen_by(downstream)
    batch = joint_batch()
    batch["labels"] = torch.tensor([0, 1, 1, 0])
    batch["attention_mask_1"][3] = 0  # one missing review
    output = model(**batch)
    assert output.logits.shape == (4, 2)
    assert torch.isfinite(output.loss)
    assert seen[0][0].shape == (4, HIDDEN) and torch.all(seen[0][1][3] == 0)
    output.loss.backward()
    prompts = [p for n, p in encoder.named_parameters() if p.requires_grad]
    assert prompts and all(p.grad is not None and p.grad.abs().sum() > 0 for p in prompts)
    assert all(torch.isfinite(p.grad).all() for p in prompts)
    backbone = [p for n, p in encoder.named_parameters() if "base_model" in n]
    assert backbone and all(p.grad is None for p in backbone)


# --- 6. every Core method inside the joint model ----------------------------------------------

TUNED = ["full", "last_n", "bitfit", "lora", "ia3", "prompt", "prefix", "adapter"]


@pytest.mark.parametrize("kind", ["encoder", "decoder"])
@pytest.mark.parametrize("name", TUNED)
def test_every_method_trains_the_language_model_jointly(name, kind):
    """one_step and two_step's step 1 take any Core method: the gradient of the downstream loss
    reaches exactly the parameters the method leaves trainable, and nothing else of the LM."""
    torch.manual_seed(0)
    backbone, pooling = (tiny_bert(), "mean") if kind == "encoder" else (tiny_llama(), "last")
    method = METHODS[name]
    config = method.config(n=1) if name == "last_n" else method.config()
    if name in ("prompt", "prefix"):
        config = method.config(num_virtual_tokens=4)
    if name == "bitfit" and kind == "decoder":  # the run path refuses it before applying
        assert "bias" in method.trains_nothing_on(backbone)
        return
    encoder = method.apply(TextEncoder(backbone, pooling), config, "")
    trainable = {n: p for n, p in encoder.named_parameters() if p.requires_grad}
    assert trainable
    downstream = mlp()
    model = JointModel(encoder, downstream, "regression", 2).train()
    with torch.no_grad():  # methods that start as the identity (LoRA B = 0, IA3 = 1, adapters)
        for parameter in trainable.values():
            parameter.add_(0.01 * torch.randn_like(parameter))
    output = model(**joint_batch())
    assert torch.isfinite(output.loss)
    output.loss.backward()
    reached = [n for n, p in trainable.items() if p.grad is not None and p.grad.abs().sum() > 0]
    assert set(reached) == set(trainable), (name, sorted(set(trainable) - set(reached))[:5])
    frozen = [n for n, p in encoder.named_parameters() if not p.requires_grad]
    assert name == "full" or frozen
    assert all(p.grad is None for p in encoder.parameters() if not p.requires_grad)
    assert all(p.grad is not None for p in downstream.parameters())
