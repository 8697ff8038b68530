"""Experiment trackers (`report_to:` in a study): each finished run's parameters, metrics,
costs and training curves, sent to MLflow, TensorBoard or Weights & Biases.

A run is logged from its record in the results store once it has ended, in the study's own
process whatever the executor, so the trackers see exactly what the store holds (a failed run
too, with its reason). The store stays the source of truth: a tracker that fails prints a
warning and the study goes on.

- `mlflow`: one MLflow run per tunebench run, in the experiment named after the study, at
  `$MLFLOW_TRACKING_URI` or else MLflow's own default kind of store, a SQLite database:
  `<study>/mlflow.db` (`mlflow ui --backend-store-uri sqlite:///runs/<study>/mlflow.db`).
- `tensorboard`: one event folder per run, `<study>/tensorboard/<run id>/`.
- `wandb`: one W&B run per tunebench run in the project named after the study (`WANDB_MODE`
  and the rest of W&B's environment apply); `pip install wandb` first.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import time
from pathlib import Path
from typing import Any, Literal, Protocol

from tunebench.errors import UserError
from tunebench.records import RunRecord

TrackerName = Literal["mlflow", "tensorboard", "wandb"]


class Tracker(Protocol):
    def log(self, record: RunRecord) -> None: ...


def open_trackers(names: list[TrackerName], study: str, folder: Path) -> list[Tracker]:
    kinds = {"mlflow": MlflowTracker, "tensorboard": TensorBoardTracker, "wandb": WandbTracker}
    return [kinds[name](study, folder) for name in names]


def parameters(record: RunRecord) -> dict[str, Any]:
    """The run's resolved config flattened to `section.setting` -> a number, bool or string."""
    flat = {"seed": record.seed, "backbone": record.backbone}
    for key, value in _flatten(record.config).items():
        if value is None or isinstance(value, bool | int | float | str):
            flat[key] = value
        else:
            flat[key] = json.dumps(value)
    return flat


def numbers(record: RunRecord) -> dict[str, float]:
    """Every finite number among the run's metrics (`test.accuracy`) and costs
    (`costs.train_seconds`); per-example values are left out."""
    metrics = {k: v for k, v in record.metrics.items() if k != "test_examples"}
    flat = {**_flatten(metrics), **_flatten({"costs": record.costs})}
    return {
        key: float(value)
        for key, value in flat.items()
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    }


def curves(record: RunRecord) -> list[tuple[int, str, float]]:
    """(step, name, value): the training loss and each epoch's validation metrics (the
    best epoch's are `validation.*` among `numbers`)."""
    points = []
    for entry in record.history:
        step = entry.get("step", 0)
        if entry.get("loss") is not None:
            points.append((step, "train.loss", entry["loss"]))
        for name, value in (entry.get("validation") or {}).items():
            if isinstance(value, int | float) and math.isfinite(value):
                points.append((step, f"epoch_validation.{name}", value))
    return points


class MlflowTracker:
    def __init__(self, study: str, folder: Path):
        MlflowClient = _require("mlflow.tracking", "mlflow").MlflowClient  # noqa: N806

        default = f"sqlite:///{(folder / 'mlflow.db').resolve()}"
        uri = os.environ.get("MLFLOW_TRACKING_URI") or default
        self.client = MlflowClient(uri)
        experiment = self.client.get_experiment_by_name(study)
        self.experiment_id = (
            experiment.experiment_id if experiment else self.client.create_experiment(study)
        )

    def log(self, record: RunRecord) -> None:
        from mlflow.entities import Metric, Param

        tags = {"tunebench.run_id": record.run_id, "tunebench.status": record.status}
        if record.reason:
            tags["tunebench.reason"] = record.reason[:5000]
        run = self.client.create_run(
            self.experiment_id, run_name=_name(record), tags=tags
        ).info.run_id
        now = int(time.time() * 1000)
        params = [Param(k, str(v)[:6000]) for k, v in parameters(record).items()]
        metrics = [Metric(k, v, now, 0) for k, v in numbers(record).items()]
        metrics += [Metric(name, value, now, step) for step, name, value in curves(record)]
        for start in range(0, max(len(params), len(metrics)), 100):  # MLflow's batch limits
            self.client.log_batch(
                run, metrics=metrics[start : start + 100], params=params[start : start + 100]
            )
        status = "FINISHED" if record.status == "completed" else "FAILED"
        self.client.set_terminated(run, status=status)


class TensorBoardTracker:
    def __init__(self, study: str, folder: Path):
        _require("tensorboard", "tensorboard")
        self.folder = folder / "tensorboard"

    def log(self, record: RunRecord) -> None:
        from torch.utils.tensorboard import SummaryWriter

        with SummaryWriter(log_dir=str(self.folder / record.run_id)) as writer:
            writer.add_text("run", f"{_name(record)}: {record.status} {record.reason or ''}")
            for step, name, value in curves(record):
                writer.add_scalar(name.replace(".", "/", 1), value, step)
            values = numbers(record)
            for name, value in values.items():
                writer.add_scalar(name.replace(".", "/", 1), value, 0)
            hparams = {k: "none" if v is None else v for k, v in parameters(record).items()}
            tests = {f"hparam/{k}": v for k, v in values.items() if k.startswith("test.")}
            writer.add_hparams(hparams, tests, run_name=".")


class WandbTracker:
    def __init__(self, study: str, folder: Path):
        self.wandb, self.study, self.folder = _require("wandb", "wandb"), study, folder

    def log(self, record: RunRecord) -> None:
        run = self.wandb.init(
            project=self.study,
            name=_name(record),
            config=parameters(record),
            dir=str(self.folder),
            reinit="create_new",
        )
        for step, name, value in curves(record):
            run.log({name: value}, step=step)
        run.summary.update(numbers(record))
        run.finish(exit_code=0 if record.status == "completed" else 1)


def _require(module: str, tracker: str):
    try:
        return importlib.import_module(module)
    except ImportError as error:
        install = "pip install wandb" if tracker == "wandb" else "pip install 'tunebench[tracking]'"
        raise UserError(f"report_to: {tracker} is not installed ({install})") from error


def _name(record: RunRecord) -> str:
    return f"{record.backbone} · {record.task} · {record.method} · seed {record.seed}"


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        flat = {}
        for key, inner in value.items():
            flat.update(_flatten(inner, f"{prefix}{key}."))
        return flat
    return {prefix[:-1]: value}
