"""One run: a fully resolved cell of a study's grid, and its stable id.

Every family's runs are one `RunSpec`: backbone, task, method, seed, training settings, and the
family's own `options` (tabular: pipeline, downstream model, downstream training). Its id hashes
everything that can change its result. The recorded config (`flat`) puts the options beside the
other fields, as tabular runs were recorded before the families shared one spec, so the ids and
configs of runs already in a store never change.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel, ConfigDict

from tunebench.families.registry import AnyTaskConfig, family_for
from tunebench.methods import AnyMethodConfig
from tunebench.training.config import TrainingConfig, identity


class RunSpec(BaseModel):
    model_config = ConfigDict(frozen=True)
    backbone: str | None
    task: AnyTaskConfig
    method: AnyMethodConfig | None
    seed: int
    training: TrainingConfig | None
    trust_remote_code: bool = False
    options: dict[str, Any] = {}
    """The family's own settings of this run (already validated by the family)."""

    def flat(self) -> dict[str, Any]:
        """The run's config as it is recorded and hashed: the options beside the other fields."""
        dump = self.model_dump(mode="json", exclude={"options"})
        return {**dump, **self.options}

    @classmethod
    def from_flat(cls, config: dict[str, Any]) -> RunSpec:
        """The spec back from its recorded config (`flat`): the extra keys are the options."""
        fields = set(cls.model_fields) - {"options"}
        options = {k: v for k, v in config.items() if k not in fields}
        return cls.model_validate(
            {**{k: config[k] for k in fields if k in config}, "options": options}
        )

    @property
    def run_id(self) -> str:
        canonical = json.dumps(identity(self.flat()), sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    @property
    def family(self) -> str:
        return self.task.family

    def label(self) -> str:
        """`minilm-l6 · sms_spam · lora(r=8, ...) · seed 0`, as the task's family writes it, for
        progress bars and logs."""
        return family_for(self.task).run_label(self)
