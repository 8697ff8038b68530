"""`python -m bench.attention`: why a training step's cost per token grows with the length.

PyTorch's fused CPU attention kernel (flash) has no dropout, so while a backbone trains with
attention dropout (MiniLM's config: 0.1) `sdpa` falls back to the unfused math kernel, which
builds and keeps batch x heads x L x L probabilities for the backward pass. This times training
steps (forward and backward of the whole backbone, batch 16) of `minilm-l6` on real
`20newsgroups` posts at lengths 64, 128 and 256, with the config's attention dropout and with
none, and records which kernel PyTorch picks for each. Written to
`bench/results/attention-<time>.json`.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime

import torch
from transformers import AutoModel, AutoTokenizer

from bench.__main__ import RESULTS, machine
from tunebench.families.classification import ClassificationTask as TaskConfig
from tunebench.families.registry import load_task
from tunebench.models.locate import model_path

LENGTHS = (64, 128, 256)
BATCH = 16


def kernel(batch: int, heads: int, length: int, head_dim: int, dropout: float) -> str:
    """The SDPA backend PyTorch chooses for these shapes in training (requires_grad inputs)."""
    query = torch.randn(batch, heads, length, head_dim, requires_grad=True)
    mask = torch.zeros(batch, 1, length, length)
    choice = torch._fused_sdp_choice(query, query, query, attn_mask=mask, dropout_p=dropout)
    return torch.nn.attention.SDPBackend(choice).name


def step_seconds(model, batch: dict, steps: int) -> float:
    """Median seconds of one forward + backward over `steps` timed steps (after one warm-up)."""
    times = []
    for _ in range(steps + 1):
        started = time.perf_counter()
        model(**batch).last_hidden_state.mean().backward()
        times.append(time.perf_counter() - started)
    return sorted(times[1:])[steps // 2]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.attention", description=__doc__)
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: all cores)")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per point")
    arguments = parser.parse_args()
    if arguments.threads:
        torch.set_num_threads(arguments.threads)
    path = model_path("minilm-l6")
    tokenizer = AutoTokenizer.from_pretrained(path)
    texts = load_task(TaskConfig(name="20newsgroups", max_train_samples=BATCH)).train.texts
    models = []
    for overrides in ({}, {"attention_probs_dropout_prob": 0.0}):  # the config's, and none
        torch.manual_seed(0)
        models.append(AutoModel.from_pretrained(path, **overrides).train())
    config = models[0].config
    heads, head_dim = config.num_attention_heads, config.hidden_size // config.num_attention_heads
    rows = []
    for length in LENGTHS:
        batch = dict(
            tokenizer(texts, truncation=True, max_length=length, padding=True, return_tensors="pt")
        )
        tokens = int(batch["attention_mask"].sum())
        for model in models:
            dropout = model.config.attention_probs_dropout_prob
            seconds = step_seconds(model, batch, arguments.steps)
            row = {
                "max_length": length,
                "attention_dropout": dropout,
                "kernel": kernel(BATCH, heads, length, head_dim, dropout),
                "step_seconds": seconds,
                "tokens": tokens,
                "ms_per_1k_tokens": 1000 * 1000 * seconds / tokens,
            }
            rows.append(row)
            print(
                f"length {length:>3}  attention dropout {dropout:.1f}  {row['kernel']:<15} "
                f"{seconds:6.3f} s/step  {row['ms_per_1k_tokens']:6.1f} ms per 1k tokens",
                flush=True,
            )
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    out = RESULTS / f"attention-{stamp}.json"
    out.write_text(json.dumps({"machine": machine(), "batch": BATCH, "rows": rows}, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
