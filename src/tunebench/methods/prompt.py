"""`prompt`: trainable virtual-token embeddings prepended to the input (Lester et al., 2021)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import PositiveInt, model_validator

from tunebench.methods.base import Method, MethodConfig, register

if TYPE_CHECKING:
    from tunebench.methods.target import Target


class PromptConfig(MethodConfig):
    name: Literal["prompt"] = "prompt"
    num_virtual_tokens: PositiveInt = 20
    init: Literal["random", "text"] = "random"
    init_text: str | None = None
    """With init='text': the embeddings start as this text's tokens (repeated to length)."""

    @model_validator(mode="after")
    def _text_needs_init_text(self):
        if self.init == "text" and not self.init_text:
            raise ValueError("init='text' needs init_text")
        return self


def apply(target: Target, config: PromptConfig):
    from peft import PromptTuningConfig, PromptTuningInit, get_peft_model

    text_init = config.init == "text"
    peft_config = PromptTuningConfig(
        task_type=target.peft_task,
        num_virtual_tokens=config.num_virtual_tokens,
        prompt_tuning_init=PromptTuningInit.TEXT if text_init else PromptTuningInit.RANDOM,
        prompt_tuning_init_text=config.init_text if text_init else None,
        tokenizer_name_or_path=target.backbone_path if text_init else None,
    )
    return get_peft_model(target.model, peft_config)


METHOD = register(
    Method(
        "prompt",
        PromptConfig,
        3e-2,
        "trainable soft-prompt tokens at the input",
        apply,
        prompt_learning=True,
    )
)
