"""`pissa`: LoRA initialised from the principal singular directions (Meng et al., 2024).

A and B start as the top-r singular vectors of each adapted weight (scaled), and the frozen
base keeps the residual, so training starts from the same function as LoRA but moves the
directions that matter most; PEFT's `init_lora_weights="pissa"` (an exact SVD: the widths of
our backbones make it take milliseconds).

Its adapter is relative to the residual base, not to the pretrained weights, so `export`
writes it merged (`--merge`); an unmerged PiSSA adapter is refused there.
"""

from tunebench.methods import lora

METHOD = lora.variant(
    "pissa",
    "LoRA started from each weight's principal singular directions",
    init_lora_weights="pissa",
)
