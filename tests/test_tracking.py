"""`report_to`: each finished run reaches a local MLflow file store and a TensorBoard folder
with the same parameters, metrics and costs as the results store."""

import importlib.util
import io
from pathlib import Path

import pytest
import torch
import yaml
from mlflow.tracking import MlflowClient
from rich.console import Console
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import tunebench.study.run_path as study_module
from tunebench.errors import UserError
from tunebench.store import ResultsStore
from tunebench.study.load import load_study
from tunebench.study.runner import run_study
from tunebench.tracking import TensorBoardTracker


def _study(tiny_assets: Path, folder: Path, report_to) -> Path:
    study = {
        "name": "tracked",
        "backbones": [str(tiny_assets / "lm")],
        "tasks": [{"name": "mine", "path": str(tiny_assets / "task.csv")}],
        "methods": ["frozen", {"name": "lora", "r": 4}],
        "training": {"epochs": 2, "batch_size": 8, "max_length": 32},
        "report_to": report_to,
    }
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "study.yaml").write_text(yaml.safe_dump(study))
    return folder / "study.yaml"


@pytest.mark.parametrize("mlflow_store", ["sqlite", "file"])
def test_runs_reach_mlflow_and_tensorboard_as_the_store_has_them(
    tiny_assets, tmp_path, monkeypatch, mlflow_store
):
    out = tmp_path / "run"
    if mlflow_store == "file":  # MLflow's file store, which it keeps in maintenance mode
        uri = (tmp_path / "mlruns").as_uri()
        monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
        monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    else:  # the default: <study>/mlflow.db
        uri = f"sqlite:///{out / 'mlflow.db'}"
        monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    real_execute = study_module.execute

    def execute(spec, *args, **kwargs):
        if spec.method.name == "frozen":
            raise torch.OutOfMemoryError("out of memory")
        return real_execute(spec, *args, **kwargs)

    monkeypatch.setattr(study_module, "execute", execute)
    study = load_study(_study(tiny_assets, tmp_path, ["mlflow", "tensorboard"]))
    run_study(study, out, Console(quiet=True))
    with ResultsStore(out / "results.sqlite") as store:
        lora, frozen = store.runs("completed")[0], store.runs("failed")[0]

    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("tracked")
    logged = {
        r.data.tags["tunebench.run_id"]: r for r in client.search_runs([experiment.experiment_id])
    }
    assert set(logged) == {lora.run_id, frozen.run_id}
    run = logged[lora.run_id]
    assert run.info.status == "FINISHED" and logged[frozen.run_id].info.status == "FAILED"
    assert logged[frozen.run_id].data.tags["tunebench.reason"].startswith("out_of_memory")
    assert run.data.params["method.r"] == "4" and run.data.params["method.name"] == "lora"
    assert run.data.metrics["test.accuracy"] == lora.metrics["test"]["accuracy"]
    assert run.data.metrics["costs.train_seconds"] == lora.costs["train_seconds"]
    losses = [h["loss"] for h in lora.history if "loss" in h]
    curve = client.get_metric_history(run.info.run_id, "train.loss")
    assert [m.value for m in sorted(curve, key=lambda m: m.step)] == losses

    events = EventAccumulator(str(out / "tensorboard" / lora.run_id))
    events.Reload()
    tags = events.Tags()["scalars"]
    assert {"test/accuracy", "costs/train_seconds", "train/loss"} <= set(tags)
    (accuracy,) = events.Scalars("test/accuracy")
    assert accuracy.value == pytest.approx(lora.metrics["test"]["accuracy"])
    assert len(events.Scalars("train/loss")) == len(losses)


def test_a_tracker_that_fails_only_warns(tiny_assets, tmp_path, monkeypatch):
    def broken(self, record):
        raise OSError("disk full")

    monkeypatch.setattr(TensorBoardTracker, "log", broken)
    output = io.StringIO()
    study = load_study(_study(tiny_assets, tmp_path, "tensorboard"))
    summary = run_study(study, tmp_path / "run", Console(file=output, width=200))
    assert (summary.completed, summary.failed) == (2, 0)
    assert "TensorBoardTracker could not log run" in output.getvalue()
    assert "disk full" in output.getvalue()


@pytest.mark.skipif(importlib.util.find_spec("wandb") is not None, reason="wandb is installed")
def test_a_tracker_that_is_not_installed_is_one_clear_error(tiny_assets, tmp_path):
    study = load_study(_study(tiny_assets, tmp_path, ["wandb"]))
    with pytest.raises(UserError, match=r"report_to: wandb is not installed \(pip install wandb\)"):
        run_study(study, tmp_path / "run", Console(quiet=True))


def test_an_unknown_tracker_names_the_field(tiny_assets, tmp_path):
    with pytest.raises(UserError, match="report_to.0"):
        load_study(_study(tiny_assets, tmp_path, ["comet"]))
