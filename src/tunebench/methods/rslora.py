"""`rslora`: rank-stabilised LoRA (Kalajdzievski, 2023), through peft's `use_rslora`.

LoRA scales its update by alpha / r, which shrinks the update as the rank grows; rsLoRA scales
by alpha / sqrt(r), so that higher ranks keep learning at the same learning rate. At r = 1 the
two are the same method; at the default r = 8 rsLoRA's update is sqrt(8) ≈ 2.8× LoRA's.
"""

from tunebench.methods import lora

METHOD = lora.variant(
    "rslora", "LoRA scaled by alpha / sqrt(r), so that high ranks keep learning", use_rslora=True
)
