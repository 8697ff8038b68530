"""`dora`: weight-decomposed LoRA (Liu et al., 2024), through peft's `use_dora`.

Each adapted weight is split into a magnitude (one trainable scalar per output feature) and a
direction, which LoRA updates: closer to full fine-tuning's learning pattern than LoRA at the
same rank, for the magnitude vectors' extra parameters and some more compute per step.
"""

from tunebench.methods import lora

METHOD = lora.variant(
    "dora", "LoRA with a trained magnitude per output feature (weight-decomposed)", use_dora=True
)
