"""A token-classification run's export, loaded in a fresh process with plain transformers + peft
(docs/export.md's `load` and `word_tags`), tags the test words as the run did."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
from rich.console import Console
from rich.progress import Progress

from tunebench.errors import UserError
from tunebench.export.folder import export_run
from tunebench.export.predict import predict_file
from tunebench.export.rebuild import rebuild
from tunebench.families.registry import load_task
from tunebench.store import ResultsStore
from tunebench.study.load import load_study
from tunebench.study.runner import run_study

from tiny import save_tiny_word_encoder

DOCS = Path(__file__).parents[1] / "docs" / "export.md"
WORDS = ["ann", "bob", "rome", "paris", "runs", "sat", "in", "to"]
FRESH = """
import json, sys
{snippet}
sentences = json.loads(open(sys.argv[1]).read())
for folder in sys.argv[2:]:
    info, tokenizer, model, head = load(folder)
    tags = [word_tags(info, tokenizer, model, head, words) for words in sentences]
    assert not [m for m in sys.modules if m.startswith("tunebench")], "tunebench was imported"
    print(json.dumps(tags))
"""


def sentence(i: int) -> dict:
    person, place = WORDS[i % 2], WORDS[2 + (i // 2) % 2]
    split = ["train"] * 6 + ["validation", "test"]
    return {
        "tokens": [person, WORDS[4 + i % 2], WORDS[6 + i % 2], place],
        "tags": ["B-PER", "O", "O", "B-LOC"],
        "split": split[i % 8],
    }


@pytest.fixture(scope="module")
def token_study(tiny_assets, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("token_export")
    encoder = save_tiny_word_encoder(root / "encoder", WORDS)
    (root / "ner.jsonl").write_text("".join(json.dumps(sentence(i)) + "\n" for i in range(48)))
    study_file = root / "study.yaml"
    study_file.write_text(
        f"name: ner\nbackbones: [{encoder}, {tiny_assets / 'lm'}]\n"
        f"tasks:\n  - {{name: n, family: token_classification, path: {root / 'ner.jsonl'}}}\n"
        "methods: [{name: lora, r: 4}, {name: prompt, num_virtual_tokens: 4}, full]\n"
        "training: {epochs: 3, batch_size: 8, max_length: 32, learning_rate: 0.01}\n"
        "save_checkpoints: true\n"
    )
    run_study(load_study(study_file), root / "out", Console(quiet=True), study_file)
    return root / "out"


def test_a_token_export_tags_the_test_words_as_the_run_did(token_study, tmp_path):
    with ResultsStore(token_study / "results.sqlite") as store:
        runs = store.runs("completed")
    assert len(runs) == 6
    test = load_task(load_study(token_study.parent / "study.yaml").tasks[0]).test
    (tmp_path / "words.json").write_text(json.dumps(test.words))
    snippet = "\n".join(re.findall(r"```python\n(.*?)```", DOCS.read_text(), re.S)[:2])
    folders = [tmp_path / record.run_id for record in runs]
    for record, folder in zip(runs, folders, strict=True):
        export_run(token_study, record.run_id, folder)
    script = FRESH.format(snippet=snippet)
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "words.json"), *map(str, folders)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()[-len(runs) :]
    for record, folder, line in zip(runs, folders, lines, strict=True):
        tags = json.loads(line)
        recorded = record.metrics["test_examples"]["words_right"]
        pairs = zip(tags, test.tags, strict=True)
        right = [sum(t == g for t, g in zip(ts, gs, strict=True)) for ts, gs in pairs]
        assert right == recorded, record.method
        _same_logits_as_the_run(token_study, record.run_id, folder)


def _same_logits_as_the_run(study: Path, run_id: str, folder: Path) -> None:
    """The exported backbone + head give the rebuilt run's own per-token logits."""
    from tunebench.export.load import load_export

    run, exported = rebuild(study, run_id), load_export(folder)
    batch = run.backbone.tokenizer(["ann runs in rome"], return_tensors="pt")
    batch.pop("token_type_ids", None)
    with torch.inference_mode():
        trained = run.model(**batch, labels=torch.zeros_like(batch["input_ids"])).logits
        hidden = exported.model(**batch).last_hidden_state
        fresh = exported.head(hidden[:, hidden.shape[1] - batch["input_ids"].shape[1] :])
    torch.testing.assert_close(fresh, trained, atol=1e-5, rtol=0)


def test_predict_tags_every_word_as_the_run_did_and_refuses_a_row_without_words(
    token_study, tmp_path
):
    """The test sentences, after a longer one that pads them, as JSONL lists and as CSV
    texts: right as many times per sentence as the run recorded, on both backbones."""
    with ResultsStore(token_study / "results.sqlite") as store:
        runs = [r for r in store.runs("completed") if r.method in ("lora", "prompt")]
    test = load_task(load_study(token_study.parent / "study.yaml").tasks[0]).test
    sentences = [["ann", "sat", "in", "rome", "to", "paris", "bob", "runs"], *test.words]
    rows = [{"tokens": words} for words in sentences]
    (tmp_path / "words.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    pd.DataFrame({"tokens": [" ".join(w) for w in sentences]}).to_csv(tmp_path / "words.csv")
    for record in runs:
        folder = tmp_path / record.run_id
        export_run(token_study, record.run_id, folder)
        for name in ("words.jsonl", "words.csv"):
            out = tmp_path / f"{record.run_id}-{name}.csv"
            with Progress(console=Console(quiet=True)) as progress:
                assert predict_file(folder, tmp_path / name, out, progress) == len(rows)
            tags = [json.loads(t) for t in pd.read_csv(out)["tags"]]
            assert len(tags[0]) == 8
            pairs = zip(tags[1:], test.tags, strict=True)
            right = [sum(t == g for t, g in zip(ts, gs, strict=True)) for ts, gs in pairs]
            assert right == record.metrics["test_examples"]["words_right"], record.run_id
    (tmp_path / "bad.jsonl").write_text('{"tokens": ["ann"]}\n{"tokens": []}\n')
    with pytest.raises(UserError, match=r"column 'tokens', data row 2: a row's words are"):
        predict_file(folder, tmp_path / "bad.jsonl", tmp_path / "bad.csv", progress)
    assert not (tmp_path / "bad.csv").exists()
