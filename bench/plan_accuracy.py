"""`python -m bench.plan_accuracy STUDY.yaml STUDY_DIR PLAN.json`: how close `tunebench plan`
came to what the runs then measured.

PLAN.json is `tunebench plan STUDY.yaml -f json` taken before the study ran (in a folder of its
own, so that no run was `done` yet); STUDY_DIR holds the study's completed runs. Per run, the
relative error (predicted - measured) / measured of train time, evaluation time and peak host
memory; the median absolute error and the worst case of each, into
`bench/results/plan-<study>-<time>.json` with the machine's description.
"""

from __future__ import annotations

import argparse
import json
import statistics
from datetime import UTC, datetime
from pathlib import Path

from tunebench.provenance import collect_provenance
from tunebench.store import stored_runs

COMPARED = ("train_seconds", "eval_seconds", "peak_host_mb")


def compare(plan: list[dict], study_dir: Path) -> dict:
    measured = {r.run_id: r for r in stored_runs(study_dir) if r.status == "completed"}
    runs, errors = [], {key: [] for key in COMPARED}
    for predicted in plan:
        record = measured.get(predicted["run_id"])
        if record is None or predicted["source"] != "probe":
            continue
        row = {"label": predicted["label"]}
        for key in COMPARED:
            truth, guess = record.costs.get(key), predicted.get(key)
            if truth and guess is not None:
                row[key] = {"predicted": guess, "measured": truth, "error": guess / truth - 1}
                errors[key].append(guess / truth - 1)
        runs.append(row)
    summary = {
        key: {
            "median_abs_error": statistics.median(abs(e) for e in values),
            "worst_error": max(values, key=abs),
            "runs": len(values),
        }
        for key, values in errors.items()
        if values
    }
    return {"summary": summary, "runs": runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("study", type=Path)
    parser.add_argument("study_dir", type=Path)
    parser.add_argument("plan", type=Path)
    args = parser.parse_args()
    result = compare(json.loads(args.plan.read_text()), args.study_dir)
    result["study"] = str(args.study)
    result["machine"] = collect_provenance()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    out = Path(__file__).parent / "results" / f"plan-{args.study.stem}-{stamp}.json"
    out.write_text(json.dumps(result, indent=1))
    for key, figures in result["summary"].items():
        print(
            f"{key}: median |error| {figures['median_abs_error']:.1%}, worst "
            f"{figures['worst_error']:+.1%} over {figures['runs']} runs"
        )
    for row in result["runs"]:
        cells = [f"{k} {row[k]['error']:+.0%}" for k in COMPARED if k in row]
        print(f"  {row['label'][:60]:60}  " + "  ".join(cells))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
