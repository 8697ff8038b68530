"""`python -m bench.bad_inputs`: how long each mistake in the bad-input corpus takes to be told.

The corpus (tests/data/bad_inputs.yaml) is every mistake a user can make in a study file, a data
file, a flag or an output folder; tests/test_bad_inputs.py checks each message in-process on a
tiny model. Here every case runs as a user meets it — a fresh `tunebench` process, on the
packaged `minilm-l6` — and the wall time from start to exit is recorded with the exit code, the
number of stderr lines and whether the output folder changed. The target is under 5 s each.
Results go to `bench/results/bad-inputs-<time>.json` with the machine's description.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import yaml

CORPUS = Path(__file__).parents[1] / "tests" / "data" / "bad_inputs.yaml"
RESULTS = Path(__file__).parent / "results"
CASES: list[dict] = yaml.safe_load(CORPUS.read_text())
BASE = (  # every case's `edit` is written against exactly these lines
    "name: bad\n"
    "backbones: ['{lm}']\n"
    "tasks: [{name: words, path: '{dir}/words.csv'}]\n"
    "methods: [lora]\n"
    "training: {epochs: 1, max_length: 24}\n"
)
WORDS = "text,label\n" + "".join(
    [f"good day {i},pos\n" for i in range(30)] + [f"bad news {i},neg\n" for i in range(30)]
)


def fill(text: str, values: dict[str, str]) -> str:
    """The placeholders replaced (not str.format: YAML flow mappings use braces too)."""
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return text


def study_text(case: dict) -> str:
    """The base study changed as the case says (placeholders still in)."""
    if "study" in case:
        return case["study"]
    text = BASE
    for old, new in _pairs(case.get("edit")):
        if old not in text:
            raise ValueError(f"{case['id']}: edit target {old!r} is not in the base study")
        text = text.replace(old, new)
    return text + (case["append"] + "\n" if "append" in case else "")


def _pairs(edit: list | None) -> list[list[str]]:
    """A case's `edit`: one [old, new] pair or a list of them."""
    if not edit:
        return []
    return edit if isinstance(edit[0], list) else [edit]


def prepare(case: dict, folder: Path, lm: str) -> tuple[list[str], dict[str, str]]:
    """Write the case's study, data and existing output files into `folder`; return the
    command's arguments (after `tunebench`) and the placeholder values."""
    values = {"dir": str(folder), "lm": lm, "study": str(folder / "s.yaml")}
    (folder / "words.csv").write_text(WORDS)
    write_tree(folder, case.get("files", {}), values)
    (folder / "s.yaml").write_text(fill(study_text(case), values))
    write_tree(folder / "out", case.get("existing", {}), values)
    args = case.get("args", ["run", "{study}", "-o", "{dir}/out"])
    return [fill(arg, values) for arg in args], values


def write_tree(root: Path, files: dict[str, str], values: dict[str, str]) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(fill(content, values))


def snapshot(folder: Path) -> dict[str, bytes] | None:
    """Every file under the output folder (None: there is none; a file there is itself)."""
    if not folder.exists():
        return None
    if folder.is_file():
        return {"": folder.read_bytes()}
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def time_case(case: dict, lm: str) -> dict:
    """One case as a fresh process: seconds to exit, exit code, stderr lines, folder kept."""
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        args, _ = prepare(case, folder, lm)
        before = snapshot(folder / "out")
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "200"}
        command = [sys.executable, "-m", "tunebench.cli", *args]
        start = time.perf_counter()
        done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        return {
            "id": case["id"],
            "seconds": round(seconds, 2),
            "exit_code": done.returncode,
            "stderr_lines": len(lines),
            "message": lines[0] if lines else "",
            "output_folder_untouched": snapshot(folder / "out") == before,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="minilm-l6", help="the base study's backbone")
    parser.add_argument("--only", nargs="*", help="case ids (default: all)")
    options = parser.parse_args()
    from tunebench.provenance import collect_provenance

    cases = [case for case in CASES if not options.only or case["id"] in options.only]
    results = []
    for case in cases:
        results.append(time_case(case, options.backbone))
        row = results[-1]
        print(f"{row['seconds']:6.2f} s  exit {row['exit_code']}  {row['id']}", flush=True)
    seconds = sorted(row["seconds"] for row in results)
    summary = {"cases": len(results), "median_s": seconds[len(seconds) // 2], "max_s": seconds[-1]}
    print(json.dumps(summary))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    out = RESULTS / f"bad-inputs-{stamp}.json"
    machine = collect_provenance()
    out.write_text(json.dumps({"machine": machine, "summary": summary, "cases": results}, indent=1))
    print(f"written: {out}")


if __name__ == "__main__":
    main()
