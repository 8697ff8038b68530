"""The benchmark's baselines train the model tunebench builds, for real (on a tiny decoder)."""

import pytest

from bench import baselines
from bench.baselines import build, maxlen_baseline, trainer_baseline
from tunebench.families.classification import ClassificationTask as TaskConfig
from tunebench.methods import METHODS
from tunebench.study.spec import RunSpec
from tunebench.training.config import TrainingConfig


def _spec(tiny_assets, method: str) -> RunSpec:
    return RunSpec(
        backbone=str(tiny_assets / "lm"),
        task=TaskConfig(name="mine", path=str(tiny_assets / "task.csv")),
        method=METHODS[method].config(),
        seed=0,
        training=TrainingConfig(epochs=2, batch_size=8, max_length=32, learning_rate=1e-3),
    )


@pytest.mark.parametrize("baseline", [trainer_baseline, maxlen_baseline])
def test_a_baseline_trains_tunebenchs_model_and_reports_speed_and_accuracy(
    tiny_assets, baseline, monkeypatch
):
    built = []

    def keep(spec):
        built.append(build(spec))
        model = built[-1][0]
        built.append(
            {k: v.detach().clone() for k, v in model.named_parameters() if v.requires_grad}
        )
        return built[0]

    monkeypatch.setattr(baselines, "build", keep)
    result = baseline(_spec(tiny_assets, "lora"))
    assert result.samples_per_s > 0 and result.train_seconds > 0
    assert 0 <= result.test_accuracy <= 1
    (model, _, _), before = built
    after = {k: v for k, v in model.named_parameters() if v.requires_grad}
    assert set(after) == set(before) and any("lora" in k for k in after)
    assert all(not after[k].equal(before[k]) for k in after if "lora_B" in k)  # it trained


def test_the_baselines_build_the_same_initial_model_as_tunebench(tiny_assets):
    first, _, _ = build(_spec(tiny_assets, "lora"))
    second, _, _ = build(_spec(tiny_assets, "lora"))
    for (name, a), (_, b) in zip(first.named_parameters(), second.named_parameters(), strict=True):
        assert a.equal(b), name


def test_quick_mode_leaves_out_the_slow_comparisons_unless_asked_for_by_name():
    from bench.__main__ import COMPARISONS, wanted

    names = [name for name, *_ in COMPARISONS] + ["tabular_frozen_vs_floor"]
    quick = [name for name in names if wanted(name, quick=True, only=None)]
    assert quick == ["lora_vs_trainer", "full_vs_trainer", "last_n_vs_trainer", "frozen_vs_trainer"]
    assert all(wanted(name, quick=False, only=None) for name in names)
    assert wanted("full_vs_maxlen", quick=True, only=["full_vs_maxlen"])
    assert not wanted("lora_vs_trainer", quick=False, only=["full_vs_maxlen"])


def test_attention_dropout_forces_the_unfused_kernel_on_the_cpu_as_benchmarks_md_says():
    from bench.attention import kernel

    assert kernel(2, 2, 16, 8, dropout=0.1) == "MATH"
    assert kernel(2, 2, 16, 8, dropout=0.0) == "FLASH_ATTENTION"
