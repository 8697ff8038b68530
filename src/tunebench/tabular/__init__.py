"""Tables with numeric, categorical and text columns: task configs, loading and preprocessing.

The downstream models (FT-Transformer, MLP, gradient-boosted trees) and the pipelines that feed
them a language model's text embeddings build on `load_tabular_task` and `TabularData`.
"""

from tunebench.tabular.builtin import BUILTIN_TABULAR_TASKS, BuiltinTabularTask, load_tabular_task
from tunebench.tabular.config import TabularTaskConfig
from tunebench.tabular.data import Roles, TabularData, TabularSplit, distinct_texts

__all__ = [
    "BUILTIN_TABULAR_TASKS",
    "BuiltinTabularTask",
    "Roles",
    "TabularData",
    "TabularSplit",
    "TabularTaskConfig",
    "distinct_texts",
    "load_tabular_task",
]
