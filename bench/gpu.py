"""`python -m bench.gpu`: issue 20's GPU figures in one call — MFU, device memory, the Trainer —
and issue 21's QLoRA row (4-bit NF4 base through bitsandbytes, where it is installed).

For a CUDA machine: bf16, PyTorch's SDPA attention, eager and `torch.compile`d. No pretrained
weights reach the lent GPU machines (a call carries at most 64 MiB; SmolLM2-135M is 0.27 GB
even in bf16), so the decoder is **SmolLM2-135M's architecture with random weights** and the
text is random words of a word-level tokenizer of SmolLM2's vocabulary size, both built here.
Speed, FLOPs, MFU and memory depend on shapes, not on weight values: they are what this
measures. Quality does not transfer and none is reported (the CPU benchmarks measure it on
the real weights).

Each row runs in a fresh process, so its peak is its own: tunebench's run path (`execute`,
a `generation` task on the words file, perplexity only) and the HF Trainer on the same model,
tokens, batch and precision. Results: `bench/results/gpu-<time>.json`, and `$OUT` when set.
docs/benchmarks.md says how to carry the wheels and run it in one device call.

On a CPU, `--layers 2 --rows 64` checks that the script runs; no figure of that means anything.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import (
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedTokenizerFast,
    Trainer,
)

from bench.__main__ import RESULTS, in_fresh_process, machine
from bench.baselines import trainer_arguments
from tunebench.families.causal_lm.sequences import Renderer, collate, resolve_format
from tunebench.families.generation import GenerationTask
from tunebench.families.generation.data import load_generation_task
from tunebench.methods import METHODS
from tunebench.models.backbones import load_causal_lm
from tunebench.study.run_path import execute
from tunebench.study.spec import RunSpec
from tunebench.training.config import TrainingConfig
from tunebench.training.loop import RunFailed

SMOLLM2_135M = {  # its config.json, less the token ids
    "hidden_size": 576,
    "intermediate_size": 1536,
    "num_hidden_layers": 30,
    "num_attention_heads": 9,
    "num_key_value_heads": 3,
    "head_dim": 64,
    "vocab_size": 49152,
    "max_position_embeddings": 8192,
    "rms_norm_eps": 1e-5,
    "rope_parameters": {"rope_type": "default", "rope_theta": 100000.0},
    "tie_word_embeddings": True,
}
SPECIALS = ["<unk>", "<s>", "</s>"]
LORA = {"r": 8, "alpha": 16}
ROWS = (  # side, method, compile
    ("tunebench", "full", False),
    ("trainer", "full", False),
    ("tunebench", "lora", False),
    ("trainer", "lora", False),
    ("tunebench", "full", True),
    ("trainer", "full", True),
    ("tunebench", "qlora", False),  # issue 21: needs bitsandbytes on the machine
)


def build_backbone(folder: Path, layers: int) -> None:
    """SmolLM2-135M's architecture (`layers` blocks), random weights, and a word tokenizer."""
    vocab_size = SMOLLM2_135M["vocab_size"]
    words = SPECIALS + [f"w{i}" for i in range(vocab_size - len(SPECIALS))]
    core = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="</s>",
        unk_token="<unk>",
    )
    config = LlamaConfig(
        **{**SMOLLM2_135M, "num_hidden_layers": layers}, bos_token_id=1, eos_token_id=2
    )
    config.pad_token_id = 2
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def write_words(path: Path, train_rows: int, eval_rows: int, length: int) -> None:
    """Prompt / response pairs of random words (16 prompt tokens, the rest response), with a
    `split` column: `train_rows` to train on, `eval_rows` each to validate and test on."""
    rng = random.Random(0)
    count = SMOLLM2_135M["vocab_size"] - len(SPECIALS)

    def words(n: int) -> str:
        return " ".join(f"w{rng.randrange(count)}" for _ in range(n))

    splits = ["train"] * train_rows + ["validation"] * eval_rows + ["test"] * eval_rows
    rows = [{"prompt": words(16), "response": words(length - 24), "split": s} for s in splits]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


def spec_for(folder: Path, method: str, compile: bool, arguments: dict):
    task = GenerationTask(
        name="random_words",
        path=folder / "words.jsonl",
        generate=False,
    )
    training = TrainingConfig(
        epochs=1,
        batch_size=arguments["batch_size"],
        eval_batch_size=arguments["batch_size"],
        max_length=arguments["length"],
        learning_rate=METHODS[method].default_lr,
        selection_metric="perplexity",
        gradient_checkpointing=False,  # 139 GiB of device memory: recomputing costs MFU
        compile=compile,
    )
    settings = LORA if method in ("lora", "qlora") else {}
    return RunSpec(
        backbone=str(folder / "lm"),
        task=task,
        method=METHODS[method].config(**settings),
        seed=0,
        training=training,
    )


def measure(side: str, method: str, compile: bool, folder: Path, arguments: dict) -> dict:
    """One row, in this (fresh) process."""
    spec = spec_for(folder, method, compile, arguments)
    row = {"side": side, "method": method, "compile": compile}
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    if side == "tunebench":
        try:
            costs = execute(spec).costs
        except RunFailed as failed:  # qlora without CUDA or bitsandbytes: the reason
            return {**row, "status": failed.reason, "reason": failed.detail}
        keys = ("train_samples_per_s", "train_seconds", "mfu", "peak_gpu_mb", "peak_host_mb")
        return {**row, "status": "completed", **{key: costs.get(key) for key in keys}}
    return {**row, **trainer_side(spec)}


def trainer_side(spec) -> dict:
    """The HF Trainer on tunebench's own model and tokens: the causal-LM family's rendered
    sequences and batches (loss on the response tokens), the same batch, schedule, precision."""
    training = spec.training
    backbone = load_causal_lm(spec.backbone)
    model = METHODS[spec.method.name].apply(backbone.model, spec.method, backbone.path)
    tokenizer = backbone.tokenizer
    renderer = Renderer(tokenizer, resolve_format("auto", tokenizer))
    train = load_generation_task(spec.task).train
    encoded = renderer.encode(train.prompts, train.responses, training.max_length)
    with tempfile.TemporaryDirectory() as output:
        arguments = trainer_arguments(output, spec, bf16=torch.cuda.is_available())
        trainer = Trainer(
            model=model,
            args=arguments,
            train_dataset=list(range(len(encoded))),  # row numbers, batched by the family's own
            data_collator=lambda rows: collate(encoded, rows, tokenizer.pad_token_id),
        )
        seconds = trainer.train().metrics["train_runtime"]
    peak = torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None
    return {
        "train_samples_per_s": len(encoded) / seconds,
        "train_seconds": seconds,
        "peak_gpu_mb": peak,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.gpu", description=__doc__)
    parser.add_argument("--layers", type=int, default=SMOLLM2_135M["num_hidden_layers"])
    parser.add_argument("--rows", type=int, default=8192, help="training sequences per row")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--length", type=int, default=256, help="tokens per sequence")
    parser.add_argument("--eager-only", action="store_true", help="leave out the compiled rows")
    parser.add_argument(
        "--methods", nargs="+", default=["full", "lora", "qlora"], help="the rows' methods"
    )
    arguments = vars(parser.parse_args())
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    paths = [RESULTS / f"gpu-{stamp}.json"]
    if os.environ.get("OUT"):
        paths.append(Path(os.environ["OUT"]) / paths[0].name)
    report = {"settings": arguments, "weights": "random (SmolLM2-135M's architecture)"}
    report |= {"machine": machine(), "rows": []}
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        build_backbone(folder / "lm", arguments["layers"])
        write_words(
            folder / "words.jsonl", arguments["rows"], arguments["batch_size"], arguments["length"]
        )
        for side, method, compile in ROWS:
            if (compile and arguments["eager_only"]) or method not in arguments["methods"]:
                continue
            row = in_fresh_process(measure, side, method, compile, folder, arguments)
            report["rows"].append(row)
            for path in paths:  # an interrupted run keeps its rows
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps(report, indent=1))
            print(_line(row), flush=True)
    print(f"wrote {paths[-1]}")


def _line(row: dict) -> str:
    if row.get("status", "completed") != "completed":
        return f"{row['side']:<9} {row['method']:<5} {row['status']}: {row['reason']}"
    mfu = f"MFU {row['mfu']:.1%}" if row.get("mfu") is not None else ""
    peak = row.get("peak_gpu_mb") or 0
    return (
        f"{row['side']:<9} {row['method']:<5} compile={row['compile']!s:<5} "
        f"{row['train_samples_per_s']:8.1f} samples/s  peak GPU {peak:8.0f} MB  {mfu}"
    )


if __name__ == "__main__":
    main()
