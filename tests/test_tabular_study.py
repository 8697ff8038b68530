"""A tabular study end to end on the real MiniLM and real clothing reviews: every pipeline, the
cells each downstream model gets, the costs each pipeline reports, resume, the Table 2
Markdown; and the study mistakes that stop before anything trains."""

import io
import math
from pathlib import Path

import pytest
import torch
from rich.console import Console

from tunebench.errors import UserError
from tunebench.families.tabular.cells import pipeline_label
from tunebench.families.tabular.config import DEFAULT_SEARCH_RATES
from tunebench.families.tabular.data import distinct_texts
from tunebench.families.tabular.load import load_tabular_task
from tunebench.methods import METHODS
from tunebench.report.markdown import render_markdown
from tunebench.report.table import build_table
from tunebench.report.text import format_seconds
from tunebench.store import ResultsStore
from tunebench.study.expand import expand
from tunebench.study.load import load_study
from tunebench.study.runner import run_study

STUDY = """
name: tabular-real
tasks:
  - {name: clothing_reviews_rating, max_train_samples: 40, max_eval_samples: 24}
backbones: [minilm-l6]
downstream:
  - {name: ft_transformer, n_blocks: 1, d_block: 32}
  - {name: mlp, n_blocks: 1, d_block: 16}
  - {name: gbdt, n_estimators: 20}
pipelines: [tabular_only, tfidf, frozen, one_step, two_step]
methods: [lora]
training: {epochs: 1, max_length: 32, batch_size: 8}
downstream_training: {max_epochs: 2}
"""
CELLS = {
    ("tabular_only", "ft_transformer"),
    ("tabular_only", "mlp"),
    ("tabular_only", "gbdt"),
    ("tfidf", "gbdt"),
    ("frozen", "ft_transformer"),
    ("frozen", "mlp"),
    ("frozen", "gbdt"),
    ("one_step", "ft_transformer"),
    ("one_step", "mlp"),
    ("two_step", "ft_transformer"),
    ("two_step", "mlp"),
    ("two_step", "gbdt"),
}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "study.yaml"
    path.write_text(text)
    return path


def quiet() -> Console:
    return Console(file=io.StringIO())


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """The study, run once for this module: (study, output folder, first summary)."""
    folder = tmp_path_factory.mktemp("tabular")
    study = load_study(write(folder, STUDY))
    # One thread, as `tunebench run --threads 1`: on a busy 2-core machine two threads wait on
    # each other (measured 85-105 s for this study against 14 s with one thread).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        summary = run_study(study, folder / "out", quiet())
    finally:
        torch.set_num_threads(threads)
    return study, folder / "out", summary


def records(out: Path) -> list:
    with ResultsStore(out / "results.sqlite") as store:
        return store.runs()


# --- 6. every pipeline end to end ---------------------------------------------------------------


@pytest.mark.real
def test_every_pipeline_completes_with_finite_metrics(finished):
    study, out, summary = finished
    assert (summary.total, summary.completed, summary.failed) == (len(CELLS), len(CELLS), 0)
    runs = records(out)
    assert all(r.status == "completed" for r in runs), [r.reason for r in runs]
    cells = [(r.config["pipeline"], r.config["downstream"]["name"]) for r in runs]
    assert sorted(cells) == sorted(CELLS)  # one_step has no gbdt, tfidf only gbdt, no doubles
    for run in runs:
        for metric in ("mse", "rmse", "mae"):
            assert math.isfinite(run.metrics["test"][metric]), (run.config["pipeline"], metric)
        lm = run.config["pipeline"] in ("frozen", "one_step", "two_step")
        assert run.backbone == ("minilm-l6" if lm else "none")
        assert run.method == {"frozen": "frozen", "one_step": "lora", "two_step": "lora"}.get(
            run.config["pipeline"], "none"
        )


@pytest.mark.real
def test_frozen_runs_embed_each_distinct_text_once(finished):
    study, out, _ = finished
    distinct = len(distinct_texts(load_tabular_task(study.tasks[0])))
    assert distinct > 40  # titles and reviews of 40 + 24 + 24 rows, some missing
    frozen = [r for r in records(out) if r.config["pipeline"] == "frozen"]
    assert len(frozen) == 3
    for run in frozen:
        assert run.costs["backbone_texts_encoded"] == run.costs["distinct_texts"] == distinct
    # One run embedded the texts; the two others read its vectors.
    assert sorted(r.costs["embeddings_reused"] for r in frozen) == [False, True, True]


@pytest.mark.real
def test_two_step_costs_both_steps_and_trains_step_one_once(finished):
    _, out, _ = finished
    runs = records(out)
    two_step = [r for r in runs if r.config["pipeline"] == "two_step"]
    assert len(two_step) == 3
    for run in two_step:
        steps = run.costs["step_seconds"]
        assert len(steps) == 2 and all(s > 0 for s in steps)
        assert sum(steps) == pytest.approx(run.costs["train_seconds"])
        assert steps[0] == pytest.approx(run.costs["step1"]["train_seconds"])
        assert math.isfinite(run.metrics["step1"]["test"]["rmse"])
        assert run.costs["lm_trainable_params"] > 0
    assert [r.costs["step1"]["reused"] for r in two_step].count(False) == 1
    # Step 1's weights, reloaded, are the same fine-tuned encoder: its embeddings are reused.
    assert sorted(r.costs["embeddings_reused"] for r in two_step) == [False, True, True]
    for run in runs:
        if run.config["pipeline"] != "two_step":
            assert len(run.costs["step_seconds"]) == 1
            assert run.costs["step_seconds"][0] == pytest.approx(run.costs["train_seconds"])


@pytest.mark.real
def test_torch_downstream_models_pick_their_rate_on_validation(finished):
    """The default `learning_rate: search`: each candidate trained and recorded, the kept rate
    best on validation (RMSE); one_step searches on its starting encoder's features and costs
    the search in its training time."""
    _, out, _ = finished
    for run in records(out):
        if run.config["downstream"]["name"] == "gbdt":
            assert "learning_rate_search" not in run.costs
            continue
        search = run.costs["learning_rate_search"]
        assert [entry["learning_rate"] for entry in search] == list(DEFAULT_SEARCH_RATES)
        best = min(entry["validation"] for entry in search)
        kept = [e["learning_rate"] for e in search if e["validation"] == best]
        assert run.costs["downstream_learning_rate"] in kept
        if run.config["pipeline"] == "one_step":
            assert 0 < run.costs["rate_search_seconds"] < run.costs["train_seconds"]
        else:
            assert run.metrics["validation"]["rmse"] == best


@pytest.mark.real
def test_rerunning_the_study_skips_every_run(finished):
    study, out, first = finished
    before = {r.run_id: r.finished_at for r in records(out)}
    summary = run_study(study, out, quiet())
    assert (summary.total, summary.skipped) == (first.total, first.total)
    assert (summary.completed, summary.failed) == (0, 0)
    assert {r.run_id: r.finished_at for r in records(out)} == before


# --- 7. the Table 2 Markdown -----------------------------------------------------------------


@pytest.mark.real
def test_markdown_table_has_one_row_per_cell_and_two_step_times(finished):
    _, out, _ = finished
    stream = io.StringIO()
    stream.write(render_markdown(build_table(records(out))))
    lines = stream.getvalue().splitlines()
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    assert header[:3] == ["LM", "Downstream", "Pipeline"]
    assert "clothing_reviews_rating mse ↓" in header and "time" in header
    time_column = header.index("time")
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]
    rows = [row for row in rows if len(row) == len(header)]
    assert len(rows) == len(CELLS)
    two_step = [row for row in rows if row[2] == "two_step (lora)"]
    assert len(two_step) == 3
    assert all(" + " in row[time_column] for row in two_step)
    assert all(" + " not in row[time_column] for row in rows if row[2] != "two_step (lora)")
    assert {row[0] for row in rows if row[2] in ("tabular_only", "tfidf")} == {"—"}


# --- 8. mistakes stopped before anything trains -----------------------------------------------

BASE = """
name: checks
tasks: [clothing_reviews_rating]
backbones: [minilm-l6]
downstream: [mlp, gbdt]
pipelines: [frozen, one_step]
methods: [lora]
"""


def test_the_base_config_is_valid(tmp_path):
    runs = expand(load_study(write(tmp_path, BASE)))
    assert [(r.options["pipeline"], r.options["downstream"]["name"]) for r in runs] == [
        ("frozen", "mlp"),
        ("one_step", "mlp"),
        ("frozen", "gbdt"),
    ]


@pytest.mark.parametrize(
    ("edits", "message"),
    [
        (
            [("downstream: [mlp, gbdt]", "downstream: [mlp]"), ("[frozen, one_step]", "[tfidf]")],
            "pipeline tfidf trains trees: add gbdt to downstream",
        ),
        ([("backbones: [minilm-l6]", "backbones: []")], "need at least one backbone"),
        ([("backbones: [minilm-l6]\n", "")], "pipelines frozen, one_step need at least one"),
        ([("methods: [lora]", "methods: []")], "need at least one method other than frozen"),
        ([("methods: [lora]\n", "")], "pipelines one_step need at least one method"),
        ([("methods: [lora]", "methods: [frozen]")], "need at least one method other than frozen"),
        (
            [("[clothing_reviews_rating]", "[adult]")],
            "task 'adult' has no text column, so pipelines frozen, one_step have nothing",
        ),
        (
            [("downstream: [mlp, gbdt]", "downstream: [mlp, xgboost]")],
            "downstream.1: Input tag 'xgboost'",
        ),
        (
            [("methods: [lora]", "methods: [lora]\ndownstream_training: {max_epoch: 3}")],
            "downstream_training.max_epoch: unknown field",
        ),
        (
            [
                ("downstream: [mlp, gbdt]", "downstream: [gbdt]"),
                ("[frozen, one_step]", "[one_step]"),
            ],
            "the study has no runs: one_step needs mlp or ft_transformer",
        ),
    ],
    ids=[
        "tfidf-without-gbdt",
        "frozen-without-backbones",
        "no-backbones-field",
        "one_step-with-no-methods",
        "one_step-without-methods-field",
        "one_step-with-only-frozen",
        "text-pipeline-on-adult",
        "unknown-downstream",
        "unknown-downstream-training-field",
        "no-runs",
    ],
)
def test_tabular_config_mistakes_name_the_problem(tmp_path, edits, message):
    text = BASE
    for old, new in edits:
        assert old in text
        text = text.replace(old, new)
    with pytest.raises(UserError) as error:
        load_study(write(tmp_path, text))
    assert message in str(error.value)
    assert str(error.value).startswith(str(tmp_path / "study.yaml"))


def test_frozen_study_needs_no_method_and_adult_takes_tabular_only(tmp_path):
    frozen = BASE.replace("[frozen, one_step]", "[frozen]").replace("methods: [lora]\n", "")
    assert {r.options["pipeline"] for r in expand(load_study(write(tmp_path, frozen)))} == {
        "frozen"
    }
    adult = BASE.replace("[clothing_reviews_rating]", "[adult]").replace(
        "[frozen, one_step]", "[tabular_only]"
    )
    runs = expand(load_study(write(tmp_path, adult)))
    assert [(r.options["pipeline"], r.backbone, r.method) for r in runs] == [
        ("tabular_only", None, None)
    ] * 2


# --- 9. a study as its own grid plus more grids -----------------------------------------------

GRIDS = (
    BASE.replace("backbones: [minilm-l6]", "backbones: [minilm-l6]\nseeds: [0, 1]")
    + """
grids:
  - {backbones: [smollm2-135m], downstream: [mlp], pipelines: [one_step]}
  - {backbones: [smollm2-135m], downstream: [ft_transformer], pipelines: [frozen, two_step]}
  - {downstream: [mlp]}
"""
)


def test_grids_add_their_cells_to_the_studys_own(tmp_path):
    runs = expand(load_study(write(tmp_path, GRIDS)))
    cells = [
        (r.backbone, r.options["downstream"]["name"], r.options["pipeline"], r.seed) for r in runs
    ]
    own = [
        ("minilm-l6", "mlp", "frozen"),
        ("minilm-l6", "mlp", "one_step"),
        ("minilm-l6", "gbdt", "frozen"),
    ]
    more = [
        ("smollm2-135m", "mlp", "one_step"),
        ("smollm2-135m", "ft_transformer", "frozen"),
        ("smollm2-135m", "ft_transformer", "two_step"),
    ]
    # the third grid's cells are all in the study's own grid already: they run once
    assert cells == [(*cell, seed) for cell in own + more for seed in (0, 1)]
    assert {r.method.name for r in runs if r.options["pipeline"] != "frozen"} == {"lora"}
    assert len({r.run_id for r in runs}) == len(runs)


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        ("{downstream: [mlp], pipelines: [tfidf]}", "grids.0: pipeline tfidf trains trees"),
        ("{backbones: []}", "grids.0: pipelines frozen, one_step need at least one backbone"),
        ("{pipeline: [frozen]}", "grids.0.pipeline: unknown field"),
        ("{downstream: [gbdt], pipelines: [one_step]}", "grids.0: the study has no runs"),
    ],
)
def test_a_bad_grid_is_named(tmp_path, grid, message):
    with pytest.raises(UserError) as error:
        load_study(write(tmp_path, f"{BASE}grids:\n  - {grid}\n"))
    assert message in str(error.value)


# --- 10. labels and times ----------------------------------------------------------------------


def test_pipeline_label_shows_only_settings_that_differ_from_the_defaults():
    lora = {**METHODS["lora"].config().model_dump(mode="json"), "r": 16}
    assert pipeline_label("two_step", lora) == "two_step (lora r=16)"
    assert pipeline_label("one_step", {"name": "lora"}) == "one_step (lora)"
    defaults = METHODS["lora"].config().model_dump(mode="json")
    assert pipeline_label("one_step", defaults) == "one_step (lora)"
    assert pipeline_label("frozen", {"name": "frozen"}) == "frozen"
    assert pipeline_label("tabular_only", None) == "tabular_only"


def test_format_seconds_writes_each_step():
    assert format_seconds([19800, 1800]) == "5.5 h + 30.0 min"
    assert format_seconds([45, 90]) == "45.0 s + 1.5 min"
    assert format_seconds([]) == "—"


PARTS = {
    "tabular_only": {"downstream"},
    "tfidf": {"tfidf", "downstream"},
    "frozen": {"embedding", "downstream"},
    "one_step": {"embedding", "downstream", "language_model"},  # the rate search's, then joint
    "two_step": {"language_model", "embedding", "downstream"},
}


@pytest.mark.real
def test_training_is_recorded_in_parts_that_sum_to_it(finished):
    """What `tunebench plan` scales each by its own size (families/tabular/sizes.py)."""
    _, out, _ = finished
    for run in records(out):
        parts = run.costs["train_parts"]
        assert set(parts) == PARTS[run.config["pipeline"]]
        assert sum(parts.values()) == pytest.approx(run.costs["train_seconds"])
        assert all(seconds >= 0 for seconds in parts.values())


@pytest.mark.real
def test_the_language_models_part_size_is_its_batches_padded_tokens(tmp_path):
    """The tokens the plan scales the language model's training by are those of the batches
    joint training collates, every epoch."""
    from tunebench.families.registry import FAMILIES
    from tunebench.families.tabular.joint import TableCollator, tokenise_table
    from tunebench.models.backbones import load_tokenizer
    from tunebench.training.data import LengthGroupedBatches, tokenize

    text = STUDY.replace("epochs: 1,", "epochs: 2,")
    specs = expand(load_study(write(tmp_path, text)))
    spec = next(s for s in specs if s.options["pipeline"] == "two_step")
    family = FAMILIES["tabular"]
    data = family.load(spec.task)
    sizes = family.part_sizes(spec, data)
    tokenizer = load_tokenizer(spec.backbone)
    table = tokenise_table(data, data.train, tokenizer, spec.training.max_length)
    collate = TableCollator(table, tokenizer.pad_token_id)
    batches = LengthGroupedBatches(table.lengths(), 8, spec.seed, spec.training.group_by_length)
    collated = [collate(b) for epoch in (0, 1) for b in batches.epoch_batches(epoch)]
    columns = len(data.text_columns)
    by_hand = sum(batch[f"input_ids_{j}"].numel() for batch in collated for j in range(columns))
    assert sizes["language_model"] == by_hand
    assert sizes["downstream"] == len(data.train.ids) == 40
    texts = tokenize(tokenizer, distinct_texts(data), 32)["input_ids"]  # padding adds tokens
    assert sum(map(len, texts)) <= sizes["embedding"] <= 32 * len(texts)
