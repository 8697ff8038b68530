"""One house: families side by side in one study, one schema that routes each field to its
family, one run path whose costs are the same for every family, methods by capability."""

from __future__ import annotations

import dataclasses
import io
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from rich.console import Console
from test_tabular_file_study import write_tickets

from tunebench.errors import UserError
from tunebench.families.registry import FAMILIES, family_of
from tunebench.report.table import build_tables
from tunebench.store import ResultsStore
from tunebench.study.expand import expand
from tunebench.study.load import load_study
from tunebench.study.runner import run_study
from tunebench.training.config import TrainingConfig
from tunebench.training.loop import RunFailed

from tiny import tiny_causal_lm, tiny_context

MIXED = """
name: mixed
backbones: [{lm}]
tasks:
  - {{name: words, path: {words}}}
  - name: tickets
    path: {tickets}
    numeric: [amount]
    categorical: [country]
    text: [subject]
    target: days
    problem: regression
methods: [{{name: lora, r: 4}}]
pipelines: [tabular_only, frozen, one_step]
downstream: [{{name: mlp, d_block: 16, n_blocks: 1}}]
downstream_training: {{max_epochs: 4}}
training: {{epochs: 1, batch_size: 8, max_length: 24}}
save_checkpoints: true
"""


def _mixed(tiny_assets, tmp_path) -> Path:
    write_tickets(tmp_path / "tickets.csv", n=60)
    path = tmp_path / "mixed.yaml"
    text = MIXED.format(
        lm=tiny_assets / "lm", words=tiny_assets / "task.csv", tickets=tmp_path / "tickets.csv"
    )
    path.write_text(text)
    return path


def test_a_text_task_and_a_table_run_through_one_study(tiny_assets, tmp_path):
    study = load_study(_mixed(tiny_assets, tmp_path))
    assert [task.family for task in study.tasks] == ["classification", "tabular"]
    summary = run_study(study, tmp_path / "out", Console(file=io.StringIO()))
    assert (summary.total, summary.completed, summary.failed) == (4, 4, 0)
    with ResultsStore(tmp_path / "out" / "results.sqlite") as store:
        records = store.runs()
    by_kind = {(r.task, r.config.get("pipeline")): r for r in records}
    # every family's runs carry the same cost fields, assembled once
    shared = set(by_kind[("words", None)].costs)
    for run in records:
        assert shared <= set(run.costs), (run.task, shared - set(run.costs))
    one_step = by_kind[("tickets", "one_step")]
    assert one_step.costs["train_flops"] > 0 and one_step.costs["mfu"] > 0  # the LM trained
    assert by_kind[("tickets", "tabular_only")].costs["train_flops"] is None  # no LM at all
    for run in records:  # save_checkpoints works for every family
        assert (tmp_path / "out" / "checkpoints" / run.run_id / "trainable.safetensors").is_file()
        assert run.metrics["test_examples"]["row"]  # predictions carry their rows
    tables = build_tables(records)
    assert [t.key_headers for t in tables] == [
        ["Backbone", "Method"],
        ["LM", "Downstream", "Pipeline"],
    ]
    assert [c.metric for c in tables[0].tasks] == ["accuracy"]
    assert [c.metric for c in tables[1].tasks] == ["mse"] and tables[1].timed


def test_variants_and_sweeps_reach_tabular_runs(tiny_assets, tmp_path):
    path = _mixed(tiny_assets, tmp_path)
    text = path.read_text().replace(
        "save_checkpoints: true",
        "variants: [{}, {epochs: 2}]\nsweep: {space: {method.r: [4, 8]}}",
    )
    path.write_text(text)
    runs = expand(load_study(path))
    counts: dict[tuple, int] = {}
    for run in runs:
        key = (run.task.name, run.options.get("pipeline"))
        counts[key] = counts.get(key, 0) + 1
    assert counts == {
        ("words", None): 4,  # 2 variants x 2 ranks
        ("tickets", "tabular_only"): 1,  # no language model: neither applies
        ("tickets", "frozen"): 2,  # the variants, not the method sweep (its method is fixed)
        ("tickets", "one_step"): 4,
    }
    assert len({run.run_id for run in runs}) == len(runs)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("pipelines: [tabular_only, frozen, one_step]", ""), "pipelines: tabular tasks need"),
        (("downstream: [{name: mlp, d_block: 16, n_blocks: 1}]", ""), "downstream: tabular"),
        (("methods: [{name: lora, r: 4}]", "methods: [frozen]"), "one_step need at least one"),
    ],
)
def test_family_fields_are_checked_by_their_family(tiny_assets, tmp_path, edit, message):
    path = _mixed(tiny_assets, tmp_path)
    path.write_text(path.read_text().replace(*edit))
    with pytest.raises(UserError, match=message):
        load_study(path)


def test_a_family_field_without_a_task_of_that_family_is_an_error(tmp_path):
    path = tmp_path / "study.yaml"
    path.write_text("name: s\nbackbones: [minilm-l6]\ntasks: [sms_spam]\nmethods: [lora]\n")
    assert load_study(path)
    path.write_text(path.read_text() + "pipelines: [frozen]\n")
    with pytest.raises(UserError, match="pipelines: only tabular tasks read it"):
        load_study(path)


def test_a_text_task_needs_backbones_and_methods(tmp_path):
    path = tmp_path / "study.yaml"
    path.write_text("name: s\ntasks: [sms_spam]\nmethods: [lora]\n")
    with pytest.raises(UserError, match="backbones: classification tasks need at least one"):
        load_study(path)


@pytest.mark.parametrize(
    ("entry", "family"),
    [
        ({"name": "sms_spam"}, "classification"),
        ({"name": "xsum"}, "generation"),
        ({"name": "adult"}, "tabular"),
        ({"name": "conll2003_sample"}, "token_classification"),
        ({"name": "mine", "path": "a.csv"}, "classification"),
        ({"name": "mine", "path": "a.csv", "target": "y", "problem": "regression"}, "tabular"),
        ({"name": "mine", "path": "a.csv", "family": "preference"}, "preference"),
        ({"name": "mine", "path": "a.csv", "label_column": "y", "target": "z"}, "classification"),
    ],
)
def test_a_tasks_family_comes_from_its_entry(entry, family):
    """`family:`, else the built-in's, else the one family that has every key, else
    classification (whose settings then report the odd key)."""
    assert family_of(entry) == family


def test_a_method_applies_only_to_the_model_kinds_it_declares(monkeypatch):
    import tunebench.families.context as context_module

    only_lm = dataclasses.replace(context_module.METHODS["lora"], kinds=frozenset({"causal_lm"}))
    monkeypatch.setitem(context_module.METHODS, "lora", only_lm)
    model = tiny_causal_lm()
    backbone = SimpleNamespace(model=model.base_model, path="", kind="decoder")
    context = tiny_context(TrainingConfig(), "lora")
    assert context.apply_method(model, backbone, "causal_lm") is not model  # peft-wrapped
    with pytest.raises(RunFailed, match="applies to causal_lm, not classifier"):
        context.apply_method(model, backbone, "classifier")


def test_every_family_is_registered_with_its_metrics_and_layout():
    assert list(FAMILIES) == [
        "classification",
        "token_classification",
        "generation",
        "multiple_choice",
        "preference",
        "tabular",
        "visual_qa",
    ]
    for family in FAMILIES.values():
        for task in family.builtins:
            config = family.task_config(name=task)
            assert set(family.validation_metrics(config)) <= set(family.metrics)
            assert family.report_metric(config.model_dump(mode="json")) in family.metrics
        assert family.layout.headers
        # every family has a built-in task but visual_qa: no image-text data reaches us
        assert bool(family.builtins) == (family.name != "visual_qa")


def test_the_study_schema_loads_no_heavy_library(tmp_path):
    """A bad study file is reported before torch, transformers, peft or optuna load."""
    path = tmp_path / "study.yaml"
    path.write_text("name: s\nbackbones: [minilm-l6]\ntasks: [sms_spam]\nmethods: [lorax]\n")
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from tunebench.errors import UserError\n"
        "from tunebench.study.load import load_study\n"
        "try:\n"
        f"    load_study(Path({str(path)!r}))\n"
        "except UserError as error:\n"
        "    print(error)\n"
        "heavy = ('torch', 'transformers', 'peft', 'optuna', 'sklearn', 'seqeval')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    message, loaded = done.stdout.strip().splitlines()
    assert "methods.0: Input tag 'lorax'" in message
    assert loaded == "[]"
