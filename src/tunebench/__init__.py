"""tunebench: controlled comparisons of fine-tuning methods, quality and cost side by side."""

__version__ = "0.1.0"
