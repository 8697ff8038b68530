"""Visual question answering batches on a tiny LLaVA loaded the way a user's model loads: the
image tokens are in the prompt, and the loss falls on the answer's tokens and its end alone."""

from __future__ import annotations

import pytest
import torch
from shapes_vqa import write_shapes_task
from tiny_vlm import tiny_llava

from tunebench.families.visual_qa.batches import (
    IGNORED,
    generate_answers,
    open_images,
    prompt_text,
    row_tokens,
    training_batch,
)


@pytest.fixture(scope="module")
def llava(tmp_path_factory):
    from transformers import AutoModelForImageTextToText, AutoProcessor

    folder = tiny_llava(tmp_path_factory.mktemp("tiny_llava"))
    return AutoModelForImageTextToText.from_pretrained(folder), AutoProcessor.from_pretrained(
        folder
    )


def test_labels_cover_the_answer_and_its_end_token_only(llava, tmp_path):
    model, processor = llava
    write_shapes_task(tmp_path, images=2)
    paths = [tmp_path / "images/000_red_square.png", tmp_path / "images/001_red_circle.png"]
    questions, answers = ["What colour is the square?", "Is the circle blue?"], ["red", "no"]
    batch = training_batch(processor, paths, questions, answers)
    tokenizer = processor.tokenizer
    for row, answer in enumerate(answers):
        labelled = batch["labels"][row][batch["labels"][row] != IGNORED]
        # the character-level tokenizer: one token per character, then <|im_end|>
        assert tokenizer.decode(labelled) == answer + tokenizer.eos_token
        assert len(labelled) == len(answer) + 1
    image_token = model.config.image_token_index
    patches = (32 // 8) ** 2
    assert ((batch["input_ids"] == image_token).sum(dim=1) == patches).all()
    assert batch["pixel_values"].shape == (2, 3, 32, 32)
    # the prompt is the chat template's, image placeholder first
    assert prompt_text(processor, "Q?").startswith("<|im_start|>user\n<image>Q?")


def test_the_loss_is_the_models_own_on_the_answer_tokens(llava, tmp_path):
    model, processor = llava
    write_shapes_task(tmp_path, images=2)
    paths = [tmp_path / "images/000_red_square.png"]
    batch = training_batch(processor, paths, ["What colour is the square?"], ["red"])
    loss = model(**batch).loss
    logits = model(**{k: v for k, v in batch.items() if k != "labels"}).logits
    targets = batch["labels"][0, 1:]
    kept = targets != IGNORED
    by_hand = torch.nn.functional.cross_entropy(logits[0, :-1][kept], targets[kept])
    assert loss.item() == pytest.approx(by_hand.item(), rel=1e-5)


def test_batched_greedy_answers_equal_one_at_a_time(llava, tmp_path):
    model, processor = llava
    write_shapes_task(tmp_path, images=3)
    paths = sorted((tmp_path / "images").glob("*.png"))
    questions = ["What colour is the square?", "Is it round?", "What shape is this one?"]
    _train(model, training_batch(processor, paths, questions, ["red", "no", "square"]))
    batched = generate_answers(model, processor, paths, questions, 4, rows_per_batch=3)
    pairs = zip(paths, questions, strict=True)
    alone = [generate_answers(model, processor, [p], [q], 4, 1)[0] for p, q in pairs]
    assert batched == alone
    assert all(isinstance(a, str) for a in batched) and any(batched)


def _argmax_answer(model, processor, path, question: str, new_tokens: int) -> str:
    """Greedy decoding by a full forward pass per token on one unpadded prompt: no cache, no
    `generate`, the reference batched generation is held to."""
    inputs = processor(
        text=[prompt_text(processor, question)], images=open_images([path]), return_tensors="pt"
    )
    ids, start = inputs["input_ids"], inputs["input_ids"].shape[1]
    with torch.inference_mode():
        for _ in range(new_tokens):
            logits = model(
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                pixel_values=inputs["pixel_values"],
            ).logits
            token = logits[:, -1].argmax(-1, keepdim=True)
            if token.item() == processor.tokenizer.eos_token_id:
                break
            ids = torch.cat([ids, token], dim=1)
    return processor.tokenizer.decode(ids[0, start:], skip_special_tokens=True).strip()


def _train(model, batch: dict, steps: int = 20) -> None:
    """A few steps on `batch`, so that the virtual tokens change the answers."""
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=5e-2)
    for _ in range(steps):
        model(**batch).loss.backward()
        optimizer.step()
        optimizer.zero_grad()


@pytest.mark.parametrize("name", ["prompt", "prefix", "p_tuning"])
def test_prompt_learning_generates_with_its_virtual_tokens(tmp_path_factory, name):
    """Left-padded batches of a prompt-learning method answer as full forward passes of one
    prompt at a time do (PEFT's virtual tokens are in both), and differently from the model
    without them."""
    from tunebench.methods import METHODS
    from tunebench.models.image_text import image_text_parts, load_image_text

    # weights large enough that the answers depend on the input (0.02's are near uniform)
    folder = tiny_llava(tmp_path_factory.mktemp("llava"), initializer_range=0.3)
    shapes = tmp_path_factory.mktemp("shapes")
    write_shapes_task(shapes, images=3)
    paths = sorted((shapes / "images").glob("*.png"))
    questions = ["What colour is the square?", "Is it round?", "What shape is this one?"]
    base, processor = load_image_text(str(folder))
    plain = generate_answers(base, processor, paths, questions, 4, rows_per_batch=3)
    method = METHODS[name]
    torch.manual_seed(0)
    model = method.apply_to_image_text(
        base, image_text_parts(base).language, method.config(name=name, num_virtual_tokens=4)
    )
    _train(model, training_batch(processor, paths, questions, ["red", "no", "square"]))
    batched = generate_answers(model, processor, paths, questions, 4, rows_per_batch=3)
    pairs = zip(paths, questions, strict=True)
    assert batched == [_argmax_answer(model, processor, p, q, 4) for p, q in pairs]
    assert batched != plain


def test_row_tokens_are_the_batches_own(llava, tmp_path):
    """Counted once per row, the tokens are those of the processor's batch: the totals its
    attention mask, the prompts where its labels start."""
    model, processor = llava
    write_shapes_task(tmp_path, images=3)
    paths = sorted((tmp_path / "images").glob("*.png"))
    questions, answers = ["What colour?", "Is the square red?", "Shape?"], ["red", "no", "a"]
    prompts, totals = row_tokens(processor, paths, questions, answers)
    batch = training_batch(processor, paths, questions, answers)
    assert totals == batch["attention_mask"].sum(dim=1).tolist()
    counted = training_batch(processor, paths, questions, answers, prompt_lengths=prompts)
    assert torch.equal(counted["labels"], batch["labels"])
    assert [t - p for p, t in zip(prompts, totals, strict=True)] == [4, 3, 2]  # answer + end
