"""Generative task families on decoder backbones: generation (SFT), multiple choice, DPO."""
