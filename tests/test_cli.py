"""The command line: user errors are one message and exit code 2, never a traceback."""

import os
import subprocess
import sys


def cli(*args, cwd=None, env=None):
    """The real command in a subprocess; Hub lookups fail at once instead of trying the network."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "tunebench.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
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
    study.write_text("name: x\nbackbones: [minilm-l6]\ntasks: [sms_spam]\nmethods: [lorax]\n")
    done = cli("run", str(study))
    assert done.returncode == 2
    assert "'lorax'" in done.stderr and "'lora'" in done.stderr and "'dora'" in done.stderr


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


def test_unknown_backbone_stops_the_study_before_training(tmp_path):
    study = tmp_path / "bad.yaml"
    missing = tmp_path / "no-such-model"
    study.write_text(
        f"name: x\nbackbones: ['{missing}']\ntasks: [{{name: t, path: '{tmp_path / 'd.csv'}'}}]\n"
        "methods: [frozen]\n"
    )
    (tmp_path / "d.csv").write_text("text,label\n" + "".join(f"t{i},{i % 2}\n" for i in range(20)))
    done = cli("run", str(study), "-o", str(tmp_path / "out"))
    assert done.returncode == 2
    assert f"backbone '{missing}'" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out" / "results.sqlite").exists()


def test_ctrl_c_says_what_is_kept_and_the_same_command_resumes(tiny_assets, tmp_path):
    import signal

    from test_ownership import _check, _holding, _start, _study

    from tunebench.cli import INTERRUPTED_MESSAGE

    study, out, log = _study(tiny_assets, tmp_path), tmp_path / "out", tmp_path / "train.log"
    # A child inherits an ignored SIGINT (CI may start us so); a handled one is reset to default.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        running = _start(study, out, log)
    finally:
        signal.signal(signal.SIGINT, previous)
    _holding(out / "results.sqlite", running.pid)
    running.send_signal(signal.SIGINT)
    output = running.communicate(timeout=120)[0]
    assert running.returncode == 130, output
    assert INTERRUPTED_MESSAGE in output and "Traceback" not in output
    resumed = _start(study, out, log)
    assert resumed.wait(timeout=600) == 0, resumed.communicate()[0]
    _check(out, log, 8)
