"""Tables with numeric, categorical and text columns (seed paper 000): a language model's text
embeddings feed a downstream model (FT-Transformer, MLP or gradient-boosted trees) through one
of the pipelines (cells.py): the language model frozen, trained jointly with the downstream
model (`one_step`), or fine-tuned on the task first (`two_step`), against tabular-only and
TF-IDF baselines. Its rows read as seed 000's Table 2 (layout.py).

Built in: `clothing_reviews_rating`, `clothing_reviews_recommend`, `adult`,
`california_housing` (tasks.py); user tables with each column's role (config.py).
"""

from __future__ import annotations

from typing import Any

from tunebench.families.base import BuiltinTask, Family
from tunebench.families.tabular import cells
from tunebench.families.tabular.config import TabularTaskConfig
from tunebench.families.tabular.layout import TABLE_2
from tunebench.families.tabular.models import DOWNSTREAM_MODELS
from tunebench.families.tabular.tasks import BUILTIN_TABULAR_TASKS
from tunebench.metrics import CLASSIFICATION, REGRESSION, metric_table


def _load(task: TabularTaskConfig):
    from tunebench.families.tabular.load import load_tabular_task

    return load_tabular_task(task)


TabularTaskConfig.builtins = {
    name: BuiltinTask(task.description, f"{task.roles.target} ({task.problem})", task.asset, _load)
    for name, task in BUILTIN_TABULAR_TASKS.items()
}


class Tabular(Family):
    name = "tabular"
    task_config = TabularTaskConfig
    metrics = metric_table(*CLASSIFICATION, *REGRESSION)
    layout = TABLE_2
    study_fields = cells.TabularStudyFields
    union_tags = frozenset(DOWNSTREAM_MODELS)
    method_kind = "text_encoder"

    def validation_metrics(self, task: TabularTaskConfig) -> tuple[str, ...]:
        """The downstream model's validation metrics; classification picks the best epoch by
        accuracy, regression by RMSE."""
        if cells.problem_of(task) == "regression":
            return ("rmse", "mse", "mae", "r2")
        return ("accuracy", "precision_macro", "recall_macro", "f1_macro", "auroc")

    def report_metric(self, task: dict[str, Any]) -> str:
        """Accuracy for classification, MSE for regression (seed 000's)."""
        builtin = BUILTIN_TABULAR_TASKS.get(task.get("name")) if not task.get("path") else None
        problem = builtin.problem if builtin else task.get("problem")
        return "mse" if problem == "regression" else "accuracy"

    def check_study(self, study: Any) -> None:
        self.check_method_settings(study)
        for where, grid in cells.grids(study):
            cells.check_grid(grid, where)

    def cells(self, study: Any, task: TabularTaskConfig) -> list:
        return cells.cells(study, task)

    def load(self, task: TabularTaskConfig):
        return _load(task)

    def train_and_test(self, context):
        from tunebench.families.tabular.pipelines import run_pipeline

        return run_pipeline(context)

    def part_sizes(self, spec, data) -> dict[str, float]:
        from tunebench.families.tabular.sizes import part_sizes

        return part_sizes(spec, data)

    def run_label(self, run) -> str:
        """`minilm-l6 · clothing_reviews_rating · mlp · one_step (lora) · seed 0`."""
        method = run.method.model_dump(mode="json") if run.method else None
        parts = [
            run.backbone or "no LM",
            run.task.name,
            run.options["downstream"]["name"],
            cells.pipeline_label(run.options["pipeline"], method),
        ]
        return " · ".join(parts) + f" · seed {run.seed}"


FAMILY = Tabular()
