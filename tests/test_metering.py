"""The cost meters: the FLOP estimate against torch's own count, and the machine-peak cache."""

import json

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from tunebench.models.blocks import transformer_layers
from tunebench.training import metering

from tiny import tiny_classifier, toy_batch


def _counted_training_flops(model, batch) -> int:
    with FlopCounterMode(display=False) as counter:
        model(**batch).loss.backward()
    return counter.get_total_flops()


@pytest.mark.parametrize("trainable", ["all", "last_block", "none"])
def test_the_flop_estimate_matches_what_torch_counts(trainable):
    model = tiny_classifier("encoder")
    batch = toy_batch(batch_size=4, length=16)
    batch["attention_mask"][:] = 1
    layers = transformer_layers(model.backbone)
    for name, parameter in model.named_parameters():
        parameter.requires_grad = (
            trainable == "all"
            or "classifier" in name
            or (trainable == "last_block" and name.startswith("backbone.encoder.layer.1."))
        )
    estimate = metering.train_flops(
        model, layers, padded_tokens=4 * 16, mean_sequence_length=16, hidden_size=32
    )
    counted = _counted_training_flops(model, batch)
    assert estimate == pytest.approx(counted, rel=0.15)


def test_a_lower_peak_measurement_never_replaces_a_higher_one(tmp_path, monkeypatch):
    monkeypatch.setenv("TUNEBENCH_CACHE", str(tmp_path))
    monkeypatch.setattr(metering, "_MEASURED", {})
    readings = iter([100e9, 40e9, 150e9])
    monkeypatch.setattr(metering, "_measure_matmul_flops", lambda device: next(readings))
    cpu = torch.device("cpu")
    assert metering.machine_peak_flops(cpu) == 100e9
    monkeypatch.setattr(metering, "_MEASURED", {})  # a new process, on a busy machine
    assert metering.machine_peak_flops(cpu) == 100e9
    monkeypatch.setattr(metering, "_MEASURED", {})  # a new process, on an idle one
    assert metering.machine_peak_flops(cpu) == 150e9
    stored = json.loads((tmp_path / "machine_peak.json").read_text())
    assert list(stored.values()) == [150e9]


def test_the_peak_is_measured_once_per_process(tmp_path, monkeypatch):
    monkeypatch.setenv("TUNEBENCH_CACHE", str(tmp_path))
    monkeypatch.setattr(metering, "_MEASURED", {})
    calls = []
    monkeypatch.setattr(metering, "_measure_matmul_flops", lambda d: calls.append(d) or 1e9)
    for _ in range(3):
        metering.machine_peak_flops(torch.device("cpu"))
    assert len(calls) == 1
