"""Study files: expansion into runs, stable ids, and one clear message per mistake."""

from pathlib import Path

import pytest

from tunebench.errors import UserError
from tunebench.methods import METHODS
from tunebench.study.expand import expand
from tunebench.study.load import load_study

GOOD = """
name: demo
backbones: [minilm-l6]
tasks:
  - sms_spam
  - {name: boolq, max_train_samples: 100}
methods:
  - frozen
  - {name: lora, r: 4}
  - {name: prompt, training: {learning_rate: 0.1}}
seeds: [0, 1]
training: {epochs: 1}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "study.yaml"
    path.write_text(text)
    return path


def test_a_study_expands_into_its_grid(tmp_path):
    runs = expand(load_study(write(tmp_path, GOOD)))
    assert len(runs) == 1 * 2 * 3 * 2
    assert len({run.run_id for run in runs}) == len(runs)
    lora = next(run for run in runs if run.method.name == "lora")
    assert lora.method.r == 4 and lora.training.learning_rate == METHODS["lora"].default_lr
    prompt = next(run for run in runs if run.method.name == "prompt")
    assert prompt.training.learning_rate == 0.1  # per-method override wins over the default


def test_a_repeated_grid_entry_is_one_run(tmp_path):
    text = GOOD.replace("  - frozen\n", "  - frozen\n  - frozen\n").replace("[0, 1]", "[0, 0, 1]")
    once = len(expand(load_study(write(tmp_path, GOOD))))
    assert len(expand(load_study(write(tmp_path, text)))) == once


def test_run_ids_are_stable_and_follow_the_config(tmp_path):
    first = [run.run_id for run in expand(load_study(write(tmp_path, GOOD)))]
    again = [run.run_id for run in expand(load_study(write(tmp_path, GOOD)))]
    assert first == again
    changed = GOOD.replace("r: 4", "r: 8")
    assert [r.run_id for r in expand(load_study(write(tmp_path, changed)))] != first


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("r: 4", "r: -1"), "methods.1.r: Input should be greater than 0 (got -1)"),
        (
            ("{name: lora, r: 4}", "lorax"),
            "does not match any of the expected tags: 'adalora', 'adapter', 'peft', 'bitfit'",
        ),
        (("{name: lora, r: 4}", "{name: lora, rank: 4}"), "methods.1.rank: unknown field"),
        (("epochs: 1", "epochs: 0"), "training.epochs: Input should be greater than 0"),
        (("name: demo", "name: 'my study'"), "name: String should match pattern"),
        (("seeds: [0, 1]", "seeds: []"), "seeds: List should have at least 1 item"),
        (("- sms_spam", "- no_such_task"), "tasks.0"),
        (("training: {learning_rate: 0.1}", "training: {lr: 0.1}"), "methods.2.training"),
    ],
)
def test_bad_configs_name_the_field(tmp_path, edit, message):
    with pytest.raises(UserError) as error:
        load_study(write(tmp_path, GOOD.replace(*edit)))
    assert message in str(error.value)
    assert str(error.value).startswith(str(tmp_path / "study.yaml"))


def test_not_yaml_and_not_a_mapping_are_clear_errors(tmp_path):
    with pytest.raises(UserError, match="not valid YAML"):
        load_study(write(tmp_path, "name: [unclosed"))
    with pytest.raises(UserError, match="must be a YAML mapping"):
        load_study(write(tmp_path, "- just a list"))
    with pytest.raises(UserError, match="no such study file"):
        load_study(tmp_path / "missing.yaml")
