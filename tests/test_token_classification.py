"""Token classification (NER): files in CoNLL and JSONL form, first-sub-token labels, word-level
scores that equal seqeval's, every method on tiny encoders and decoders, a whole study."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import torch
from rich.console import Console
from seqeval.metrics import f1_score, precision_score, recall_score
from seqeval.scheme import IOB2

from tunebench.errors import UserError
from tunebench.families.registry import AnyTaskConfig, family_of, load_task
from tunebench.families.token_classification import FAMILY, TokenTask
from tunebench.families.token_classification.data import TokenSplit
from tunebench.families.token_classification.run import (
    IGNORE,
    TokenClassifier,
    WordCollator,
    encode,
)
from tunebench.families.token_classification.scores import word_metrics
from tunebench.methods import METHODS
from tunebench.report.stats import resampled
from tunebench.store import ResultsStore
from tunebench.study.load import load_study
from tunebench.study.runner import run_study

from tiny import TINY_SETTINGS, tiny_bert, tiny_llama, tiny_tokenizer

CONLL = """-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC
call NN I-NP O

Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER

BRUSSELS NNP B-NP B-LOC
"""


def _conll(tmp_path, text: str = CONLL):
    path = tmp_path / "ner.conll"
    path.write_text(text)
    return path


def test_a_conll_file_reads_sentences_words_and_tags(tmp_path):
    data = load_task(TokenTask(name="mine", path=_conll(tmp_path)))
    splits = [data.train, data.validation, data.test]
    assert sum(len(s) for s in splits) == 3  # the DOCSTART line and blank lines separate
    everything = {tuple(w): t for s in splits for w, t in zip(s.words, s.tags, strict=True)}
    assert everything[("EU", "rejects", "German", "call")] == ["B-ORG", "O", "B-MISC", "O"]
    assert everything[("Peter", "Blackburn")] == ["B-PER", "I-PER"]
    assert data.label_names[0] == "O" and set(data.label_names) == {
        "O",
        "B-ORG",
        "B-MISC",
        "B-PER",
        "I-PER",
        "B-LOC",
    }
    assert sorted(i for s in splits for i in s.ids) == [0, 1, 2]  # sentence index in the file


def test_a_jsonl_file_with_a_split_column(tmp_path):
    rows = [
        {"tokens": ["Ann", "runs"], "tags": ["B-PER", "O"], "split": "train"},
        {"tokens": ["Bob"], "tags": ["B-PER"], "split": "train"},
        {"tokens": ["in", "Rome"], "tags": ["O", "B-LOC"], "split": "validation"},
        {"tokens": ["Cy", "sat"], "tags": ["B-PER", "O"], "split": "test"},
    ]
    path = tmp_path / "ner.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    data = load_task(TokenTask(name="mine", path=path))
    assert data.train.words == [["Ann", "runs"], ["Bob"]] and data.test.ids == [3]
    assert data.validation.tags == [["O", "B-LOC"]]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"tokens": ["a", "b"], "tags": ["O"]}, "data row 1 has 2 tokens but 1 tags"),
        ({"tokens": ["a"], "tags": ["PER"]}, "data row 1: tag 'PER' is not IOB2"),
        ({"tokens": "a b", "tags": ["O"]}, "column .tokens., data row 1: expected a non-empty"),
        ({"words": ["a"], "tags": ["O"]}, r"has no column 'tokens' \(tokens_column\)"),
    ],
)
def test_bad_rows_name_the_row_and_column(tmp_path, row, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(row) + "\n")
    with pytest.raises(UserError, match=message):
        load_task(TokenTask(name="bad", path=path))


def test_a_bad_conll_tag_names_its_line(tmp_path):
    with pytest.raises(UserError, match="line 3: tag 'S-ORG' is not IOB2"):
        load_task(TokenTask(name="bad", path=_conll(tmp_path, CONLL.replace("B-ORG", "S-ORG"))))


def test_a_token_task_is_recognised_by_its_settings_and_builtin_name():
    assert family_of({"name": "x", "path": "n.jsonl", "tokens_column": "words"}) == FAMILY.name
    assert family_of({"name": "conll2003_sample"}) == FAMILY.name
    from pydantic import TypeAdapter

    task = TypeAdapter(AnyTaskConfig).validate_python({"name": "conll2003_sample"})
    assert isinstance(task, TokenTask) and task.family == "token_classification"


def _split(words: list[list[str]], tags: list[list[str]]) -> TokenSplit:
    return TokenSplit(words, tags, list(range(len(words))))


def test_labels_sit_on_each_words_first_sub_token_and_truncated_words_are_marked():
    tokenizer = tiny_tokenizer(chat=False)  # one token per character
    split = _split([["ab", "c"], ["abcdef"]], [["B-PER", "O"], ["B-LOC"]])
    ids = {"O": 0, "B-PER": 1, "B-LOC": 2}
    encoded = encode(split, tokenizer, ids, max_length=4)
    # "ab", " c": tokens a b ␠ c; the word " c" starts at its space
    assert encoded.labels[0] == [1, IGNORE, 0, IGNORE]
    assert encoded.first_tokens[0] == [0, 2]
    assert encoded.first_tokens[1] == [0] and encoded.labels[1] == [2, IGNORE, IGNORE, IGNORE]
    cut = encode(_split([["ab", "cd", "ef"]], [["O", "O", "O"]]), tokenizer, ids, max_length=4)
    assert cut.first_tokens[0] == [0, 2, -1]  # the third word did not fit
    batch = WordCollator(encoded, 0, index_base=10)([1, 0])
    assert batch["labels"].tolist()[1] == [1, IGNORE, 0, IGNORE]
    assert batch["example_index"].tolist() == [11, 10]


def test_word_metrics_equal_seqeval_and_resample_from_per_sentence_counts():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"], ["O", "B-MISC"]]
    guess = [["B-PER", "I-PER", "O", "B-ORG"], ["B-ORG", "O"], ["I-MISC", "I-MISC"]]
    metrics = word_metrics(gold, guess, ["a", "b", "c"])
    strict = {"mode": "strict", "scheme": IOB2}
    assert metrics["entity_f1"] == pytest.approx(f1_score(gold, guess, **strict))
    assert metrics["entity_precision"] == pytest.approx(precision_score(gold, guess, **strict))
    assert metrics["entity_recall"] == pytest.approx(recall_score(gold, guess, **strict))
    assert metrics["token_accuracy"] == pytest.approx(5 / 8)
    examples = metrics["examples"]
    assert examples["row"] == ["a", "b", "c"]
    assert examples["entities_right"] == [1, 1, 0]  # strict: I-MISC I-MISC is no entity
    whole = np.arange(3)[None, :]
    for name in ("entity_f1", "entity_precision", "entity_recall", "token_accuracy"):
        values = {k: v for k, v in examples.items() if k != "row"}
        assert resampled(FAMILY.metric(name), [values], whole)[0] == pytest.approx(metrics[name])


@pytest.mark.parametrize("kind", ["encoder", "decoder"])
@pytest.mark.parametrize("name", sorted(METHODS))
def test_every_method_trains_the_token_head(kind, name):
    """The loss reaches what the method leaves trainable; the logits are one per input token
    (prompt tuning's virtual tokens dropped)."""
    torch.manual_seed(0)
    backbone = tiny_bert() if kind == "encoder" else tiny_llama()
    method = METHODS[name]
    if method.trains_nothing_on(backbone):  # bitfit on Llama: refused before applying
        return
    if name == "qlora" and not torch.cuda.is_available():
        return  # CUDA only: refused (tests/test_peft_methods.py)
    settings = TINY_SETTINGS.get(name, {})
    if name in ("prompt", "prefix", "p_tuning"):
        settings = {"num_virtual_tokens": 3}
    model = method.apply(TokenClassifier(backbone, 3), method.config(**settings), "")
    input_ids = torch.randint(1, 100, (2, 6))
    labels = torch.tensor([[1, IGNORE, 2, 0, IGNORE, 1], [0, 2, IGNORE, IGNORE, IGNORE, IGNORE]])
    mask = torch.ones_like(input_ids)
    mask[1, 3:] = 0
    output = model(input_ids=input_ids, attention_mask=mask, labels=labels)
    assert output.logits.shape == (2, 6, 3)
    output.loss.backward()
    trained = [p for p in model.parameters() if p.requires_grad]
    assert trained and any(p.grad is not None and p.grad.abs().sum() > 0 for p in trained)


def _jsonl_task(tmp_path, n: int = 40) -> str:
    """Names (capitalised) are people, 'in X' is a place: learnable from a few sentences."""
    people, places = ["Ann", "Bob", "Cy", "Di"], ["Rome", "Oslo", "Lima"]
    rows = []
    for i in range(n):
        person, place = people[i % 4], places[i % 3]
        rows.append({"tokens": [person, "sat", "in", place], "tags": ["B-PER", "O", "O", "B-LOC"]})
    path = tmp_path / "people.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


STUDY = """
name: ner
backbones: [{lm}]
tasks:
  - {{name: people, family: token_classification, path: {path}}}
methods:
  - frozen
  - lora
  - prompt
  - prefix
  - adapter
  - {{name: full, training: {{learning_rate: 0.003, epochs: 10}}}}
training: {{epochs: 3, batch_size: 8, max_length: 48}}
"""


def test_a_token_study_runs_every_method_and_records_entity_scores(tiny_assets, tmp_path):
    path = tmp_path / "study.yaml"
    path.write_text(STUDY.format(lm=tiny_assets / "lm", path=_jsonl_task(tmp_path)))
    summary = run_study(load_study(path), tmp_path / "out", Console(file=io.StringIO()))
    assert (summary.completed, summary.failed) == (6, 0)
    with ResultsStore(tmp_path / "out" / "results.sqlite") as store:
        runs = {r.method: r for r in store.runs()}
    for run in runs.values():
        test = run.metrics["test"]
        assert 0 <= test["entity_f1"] <= 1 and 0 <= test["token_accuracy"] <= 1
        assert len(run.metrics["test_examples"]["row"]) == 8  # 20% of 40 sentences
        assert run.costs["trainable_params"] > 0 and run.costs["train_flops"] > 0
    full = runs["full"].metrics["test"]  # it learns the tags (a name, then "in" a place)
    assert full["token_accuracy"] > 0.9 and full["entity_f1"] > 0.8


def test_the_plan_counts_each_sentences_sub_tokens_as_the_run_encodes_them(tiny_assets, tmp_path):
    """`tunebench plan` scales a token-classification probe by the run's own encoded lengths."""
    from tunebench.families.token_classification import FAMILY
    from tunebench.models.backbones import load_tokenizer
    from tunebench.study.expand import expand

    path = tmp_path / "study.yaml"
    path.write_text(STUDY.format(lm=tiny_assets / "lm", path=_jsonl_task(tmp_path)))
    spec = expand(load_study(path))[0]
    task = FAMILY.load(spec.task)
    lengths = FAMILY.token_lengths(spec, task)
    tokenizer = load_tokenizer(spec.backbone)
    labels = {name: i for i, name in enumerate(task.label_names)}
    expected = encode(task.train, tokenizer, labels, spec.training.max_length).lengths()
    assert lengths.train == expected and len(set(expected)) > 1
    assert (len(lengths.validation), len(lengths.test)) == (len(task.validation), len(task.test))
