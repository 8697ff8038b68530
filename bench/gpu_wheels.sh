#!/usr/bin/env bash
# Wheels that `python -m bench.gpu` needs on the lent GPU machine (Python 3.12, its own CUDA
# torch), into .whl/ (git-ignored): tunebench's dependencies that its image lacks, and the Hugging
# Face stack at requirements.lock's versions (the image's transformers is older than we allow).
# Versions come from requirements.lock; torch stays the machine's. Sdist-only packages (pure
# Python: rouge-score, seqeval) are built into wheels here. docs/benchmarks.md, "GPU".
set -euo pipefail
cd "$(dirname "$0")/.."
names="annotated-types pydantic pydantic-core typing-inspection platformdirs gguf lightgbm nltk
rouge-score seqeval plotly optuna alembic sqlalchemy mako colorlog rtdl-revisiting-models submitit
transformers peft accelerate tokenizers safetensors huggingface-hub"
pins=()
for name in $names; do
  pins+=("$(grep -i "^${name}==" requirements.lock | cut -d' ' -f1)")
done
rm -rf .whl && mkdir .whl
platforms=()
for n in 17 24 27 28 31 34; do platforms+=(--platform "manylinux_2_${n}_x86_64"); done
for pin in "${pins[@]}"; do  # a wheel for Python 3.12 where one exists; else build the sdist
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp "${platforms[@]}" --platform manylinux2014_x86_64 --platform any \
    -d .whl "$pin" 2>/dev/null || python3 -m pip wheel -q --no-deps -w .whl "$pin"
done
du -sh .whl
