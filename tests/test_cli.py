"""The command line: user errors are one message and exit code 2, never a traceback."""

import subprocess
import sys


def cli(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "tunebench.cli", *args], capture_output=True, text=True, cwd=cwd
    )


def test_bad_study_is_one_message_and_exit_2(tmp_path):
    study = tmp_path / "bad.yaml"
    study.write_text(
        "name: x\nbackbones: [minilm-l6]\ntasks: [sms_spam]\nmethods: [{name: lora, r: -2}]\n"
    )
    done = cli("run", str(study))
    assert done.returncode == 2
    assert "methods.0.r: Input should be greater than 0 (got -2)" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_unknown_method_lists_the_allowed_ones(tmp_path):
    study = tmp_path / "bad.yaml"
    study.write_text("name: x\nbackbones: [minilm-l6]\ntasks: [sms_spam]\nmethods: [dora]\n")
    done = cli("run", str(study))
    assert done.returncode == 2
    assert "'dora'" in done.stderr and "'lora'" in done.stderr and "'adapter'" in done.stderr


def test_results_of_a_folder_without_a_store(tmp_path):
    done = cli("results", str(tmp_path))
    assert done.returncode == 2 and "no results.sqlite" in done.stderr


def test_list_methods_shows_all_nine():
    done = cli("list", "methods")
    assert done.returncode == 0
    for name in (
        "frozen",
        "full",
        "last_n",
        "bitfit",
        "lora",
        "ia3",
        "prompt",
        "prefix",
        "adapter",
    ):
        assert name in done.stdout
