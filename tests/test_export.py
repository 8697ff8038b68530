"""`tunebench export` and `predict`: every method's export, loaded in a fresh process (plain
transformers + peft for the peft and model formats, running docs/export.md's own code),
reproduces the run's recorded test predictions; bad requests are one clear line."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
from rich.console import Console

from tunebench.errors import UserError
from tunebench.export.folder import export_run
from tunebench.export.rebuild import rebuild
from tunebench.families.registry import load_task
from tunebench.store import ResultsStore
from tunebench.study.load import load_study
from tunebench.study.runner import run_study

from tiny import save_tiny_word_encoder

DOCS = Path(__file__).parents[1] / "docs" / "export.md"
METHODS = """
  - frozen
  - full
  - {name: last_n, n: 1}
  - bitfit
  - {name: lora, r: 4}
  - {name: dora, r: 4}
  - {name: rslora, r: 4}
  - {name: pissa, r: 4}
  - {name: adalora, r: 2, init_r: 4}
  - {name: lora_plus, r: 4}
  - ia3
  - {name: prompt, num_virtual_tokens: 4}
  - {name: prefix, num_virtual_tokens: 4}
  - {name: adapter, reduction_factor: 4}
"""
WORDS = ["good", "day", "bad", "news", *map(str, range(30))]


@pytest.fixture(scope="module")
def study(tiny_assets, tmp_path_factory) -> Path:
    """Every method on a tiny encoder and a tiny decoder, one epoch, checkpoints saved."""
    root = tmp_path_factory.mktemp("export")
    save_tiny_word_encoder(root / "encoder", WORDS)
    study_file = root / "study.yaml"
    study_file.write_text(
        f"name: export\nbackbones: [{root / 'encoder'}, {tiny_assets / 'lm'}]\n"
        f"tasks:\n  - {{name: mine, path: {tiny_assets / 'task.csv'}}}\nmethods:{METHODS}"
        "training: {epochs: 2, batch_size: 8, max_length: 32, learning_rate: 0.01}\n"
        "save_checkpoints: true\n"
    )
    run_study(load_study(study_file), root / "out", Console(quiet=True), study_file)
    return root / "out"


def completed(study: Path) -> list:
    with ResultsStore(study / "results.sqlite") as store:
        return store.runs("completed")


def test_every_method_trains_on_both_backbones_but_bitfit_on_llama(study):
    with ResultsStore(study / "results.sqlite") as store:
        failed = [(r.method, r.reason) for r in store.runs() if r.status != "completed"]
    assert [(method, reason.split(":")[0]) for method, reason in failed] == [
        ("bitfit", "unsupported")  # Llama has no biases
    ]
    assert len(completed(study)) == 27  # 14 methods on two backbones, less bitfit on Llama


# Each script reads a JSON list of export folders and prints one line of probabilities per
# folder: one fresh interpreter per format, not per run (imports cost seconds each).
FRESH = """
import json, sys
{snippet}
texts = json.loads(open(sys.argv[2]).read())
for folder in json.loads(sys.argv[1]):
    info, tokenizer, model, head = load(folder)
    chosen = probabilities(info, tokenizer, model, head, texts).tolist()
    assert not [m for m in sys.modules if m.startswith("tunebench")], "tunebench was imported"
    print(json.dumps(chosen))
"""
WITH_TUNEBENCH = """
import json, sys
from pathlib import Path
from tunebench.export.load import load_export
texts = json.loads(open(sys.argv[2]).read())
for folder in json.loads(sys.argv[1]):
    print(json.dumps(load_export(Path(folder)).probabilities(texts).tolist()))
"""


def docs_snippet() -> str:
    return re.search(r"```python\n(.*?)```", DOCS.read_text(), re.S).group(1)


def fresh_probabilities(script: str, folders: list[Path], texts_file: Path) -> list[torch.Tensor]:
    """Each folder's probabilities on the texts, computed by `script` in one fresh process."""
    done = subprocess.run(
        [sys.executable, "-c", script, json.dumps(list(map(str, folders))), str(texts_file)],
        capture_output=True,
        text=True,
        env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", "HOME": str(Path.home())},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()[-len(folders) :] if folders else []
    assert len(lines) == len(folders), done.stdout[-2000:]
    return [torch.tensor(json.loads(line)) for line in lines]


@torch.inference_mode()
def trained_probabilities(study: Path, run_id: str, texts: list[str]) -> torch.Tensor:
    """The rebuilt run's own classifier on `texts`, in this process, as it was tested."""
    run = rebuild(study, run_id)
    batch = run.backbone.tokenizer(texts, padding=True, truncation=True, max_length=32)
    batch = {k: torch.tensor(v) for k, v in batch.items() if k != "token_type_ids"}
    return run.model(**batch).logits.float().softmax(-1)


def test_each_export_reproduces_the_recorded_test_predictions_in_a_fresh_process(study, tmp_path):
    runs = completed(study)
    spec_task = load_study(study.parent / "study.yaml").tasks[0]
    texts = load_task(spec_task).test.texts
    texts_file = tmp_path / "texts.json"
    texts_file.write_text(json.dumps(texts))
    plain = FRESH.format(snippet=docs_snippet())
    by_script: dict[str, list] = {plain: [], WITH_TUNEBENCH: []}
    for record in runs:
        merge = record.method == "pissa"  # its adapter is relative to a residual base
        written = export_run(study, record.run_id, tmp_path / record.run_id, merge=merge)
        assert written == {"adapter": "bottleneck", "pissa": "model"}.get(
            record.method,
            "peft"
            if record.method
            in ("lora", "dora", "rslora", "lora_plus", "adalora", "ia3", "prompt", "prefix")
            else "model",
        )
        by_script[WITH_TUNEBENCH if written == "bottleneck" else plain].append(record)
    for script, records in by_script.items():
        folders = [tmp_path / record.run_id for record in records]
        fresh_ones = fresh_probabilities(script, folders, texts_file)
        for record, fresh in zip(records, fresh_ones, strict=True):
            recorded = record.metrics["test_examples"]["prediction"]
            assert fresh.argmax(-1).tolist() == recorded, record.method
            # the same probabilities too (tiny runs that predict one class would match anyway)
            trained = trained_probabilities(study, record.run_id, texts)
            torch.testing.assert_close(fresh, trained, atol=1e-5, rtol=0, msg=record.method)


@pytest.mark.parametrize("method", ["lora", "dora"])
def test_a_peft_export_is_a_plain_adapter_folder_and_merge_writes_a_model(study, tmp_path, method):
    lora = next(r for r in completed(study) if r.method == method and "encoder" in r.backbone)
    export_run(study, lora.run_id, tmp_path / "adapter")
    config = json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == str((study.parent / "encoder").resolve())
    assert config["task_type"] == "FEATURE_EXTRACTION" and config["peft_type"] == "LORA"
    assert config["use_dora"] == (method == "dora")
    info = json.loads((tmp_path / "adapter" / "tunebench.json").read_text())
    assert info["labels"] == ["neg", "pos"] and info["run_id"] == lora.run_id
    assert export_run(study, lora.run_id, tmp_path / "merged", merge=True) == "model"
    texts_file = tmp_path / "texts.json"
    texts_file.write_text(json.dumps(["good day 3", "bad news 7"]))
    snippet = FRESH.format(snippet=docs_snippet())
    adapter, merged = fresh_probabilities(
        snippet, [tmp_path / "adapter", tmp_path / "merged"], texts_file
    )
    torch.testing.assert_close(merged, adapter, atol=1e-5, rtol=0)


def test_the_loop_drove_adalora_down_to_its_rank_budget(study):
    """Through the run path: the loop's after_step hook pruned 4 singular values per layer to
    an average of 2 (the trained tensors in the checkpoint hold the masked ones as zeros)."""
    from safetensors.torch import load_file

    for record in [r for r in completed(study) if r.method == "adalora"]:
        tensors = load_file(study / "checkpoints" / record.run_id / "trainable.safetensors")
        singular = [t for name, t in tensors.items() if "lora_E" in name]
        assert singular and all(t.numel() == 4 for t in singular)
        assert sum(int((t != 0).sum()) for t in singular) == 2 * len(singular)


def test_export_refusals_are_clear(study, tmp_path):
    lora = next(r for r in completed(study) if r.method == "lora")
    prompt = next(r for r in completed(study) if r.method == "prompt")
    with pytest.raises(UserError, match="not in"):
        export_run(study, "0000000000000000", tmp_path / "a")
    with pytest.raises(UserError, match=r"applies to .*\bia3, .*\blora, .*, not to prompt"):
        export_run(study, prompt.run_id, tmp_path / "b", merge=True)
    pissa = next(r for r in completed(study) if r.method == "pissa")
    with pytest.raises(UserError, match="export it with --merge"):
        export_run(study, pissa.run_id, tmp_path / "p")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("kept")
    with pytest.raises(UserError, match="not an empty folder"):
        export_run(study, lora.run_id, tmp_path / "full")
    checkpoint = study / "checkpoints" / lora.run_id / "trainable.safetensors"
    checkpoint.rename(checkpoint.with_suffix(".moved"))
    try:
        with pytest.raises(UserError, match="save_checkpoints: true"):
            export_run(study, lora.run_id, tmp_path / "c")
    finally:
        checkpoint.with_suffix(".moved").rename(checkpoint)
    assert not (tmp_path / "b").exists() and not (tmp_path / "c").exists()


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tunebench.cli", *args], capture_output=True, text=True
    )


def test_predict_writes_one_row_per_input_row_and_refuses_bad_files(study, tmp_path):
    lora = next(r for r in completed(study) if r.method == "lora" and "encoder" in r.backbone)
    done = cli("export", str(study), lora.run_id, str(tmp_path / "exported"))
    assert done.returncode == 0, done.stderr
    (tmp_path / "new.csv").write_text("text,other\ngood day 1,x\nbad news 2,y\ngood day 9,z\n")
    out = tmp_path / "p.csv"
    done = cli("predict", str(tmp_path / "exported"), str(tmp_path / "new.csv"), "-o", str(out))
    assert done.returncode == 0, done.stderr
    lines = out.read_text().splitlines()
    assert lines[0] == "row,prediction,probability_neg,probability_pos" and len(lines) == 4
    (tmp_path / "bad.csv").write_text("message\nhello\n")
    out = tmp_path / "q.csv"
    done = cli("predict", str(tmp_path / "exported"), str(tmp_path / "bad.csv"), "-o", str(out))
    assert done.returncode == 2 and "no column 'text'" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and not out.exists()


CAUSAL_FRESH = """
import json, sys
import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer
for folder in sys.argv[1:]:
    info = json.loads(open(folder + "/tunebench.json").read())
    if info["format"] == "peft":
        base = AutoModelForCausalLM.from_pretrained(info["base_model"])
        model = PeftModel.from_pretrained(base, folder)
    elif info["format"] == "bottleneck":
        from tunebench.export.load import load_bottleneck
        model = load_bottleneck(__import__("pathlib").Path(folder), AutoModelForCausalLM)
    else:
        model = AutoModelForCausalLM.from_pretrained(folder)
    batch = AutoTokenizer.from_pretrained(folder)(["repeat cat"], return_tensors="pt")
    with torch.inference_mode():
        print(json.dumps(model.eval()(**batch).logits[0, -1].tolist()))
"""


@pytest.fixture(scope="module")
def generation_study(tiny_assets, tmp_path_factory) -> Path:
    """Five methods on the tiny decoder and a generation file task, checkpoints saved."""
    root = tmp_path_factory.mktemp("generation_export")
    rows = [{"prompt": f"repeat {w}", "response": w} for w in ["cat", "dog"] * 12]
    (root / "gen.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    study_file = root / "study.yaml"
    study_file.write_text(
        f"name: gen\nbackbones: [{tiny_assets / 'lm'}]\n"
        f"tasks:\n  - {{name: g, family: generation, path: {root / 'gen.jsonl'},"
        " max_new_tokens: 6}\n"
        "methods: [{name: lora, r: 4}, {name: prefix, num_virtual_tokens: 4}, full, adapter,"
        " frozen]\n"
        "training: {epochs: 1, batch_size: 8, max_length: 32, learning_rate: 0.01}\n"
        "save_checkpoints: true\n"
    )
    run_study(load_study(study_file), root / "out", Console(quiet=True), study_file)
    return root / "out"


def test_a_causal_lm_export_loads_with_auto_model_for_causal_lm(generation_study, tmp_path):
    """Also the zero-shot run (frozen on a language model), which has no checkpoint."""
    runs = completed(generation_study)
    assert sorted(r.method for r in runs) == ["adapter", "frozen", "full", "lora", "prefix"]
    for record in runs:
        export_run(generation_study, record.run_id, tmp_path / record.method)
    folders = [str(tmp_path / record.method) for record in runs]
    done = subprocess.run(
        [sys.executable, "-c", CAUSAL_FRESH, *folders], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()[-len(runs) :]
    for record, line in zip(runs, lines, strict=True):
        run = rebuild(generation_study, record.run_id)
        batch = run.backbone.tokenizer(["repeat cat"], return_tensors="pt")
        with torch.inference_mode():
            trained = run.model(**batch).logits[0, -1]
        fresh = torch.tensor(json.loads(line))
        torch.testing.assert_close(fresh, trained, atol=1e-5, rtol=0, msg=record.method)


def test_predict_generates_with_an_exported_generation_run(generation_study, tmp_path):
    from tunebench.families.causal_lm.sequences import Renderer
    from tunebench.families.generation.run import generate
    from tunebench.training.optim import make_accelerator

    lora = next(r for r in completed(generation_study) if r.method == "lora")
    assert cli("export", str(generation_study), lora.run_id, str(tmp_path / "x")).returncode == 0
    prompts = ["repeat cat", "repeat dog", "repeat sun"]
    (tmp_path / "new.jsonl").write_text("".join(json.dumps({"prompt": p}) + "\n" for p in prompts))
    out = tmp_path / "generated.csv"
    done = cli("predict", str(tmp_path / "x"), str(tmp_path / "new.jsonl"), "-o", str(out))
    assert done.returncode == 0, done.stderr
    written = pd.read_csv(out, keep_default_na=False)
    assert list(written.columns) == ["row", "generation"] and len(written) == 3
    run = rebuild(generation_study, lora.run_id)
    renderer = Renderer(run.backbone.tokenizer, "chat")
    training = run.spec.training
    expected = generate(run.model, renderer, prompts, training, 6, make_accelerator(training))
    assert written["generation"].tolist() == expected
