"""The downstream model's learning rate picked on validation: every candidate from the same
start, the best kept, the search recorded and costed; a fixed rate trains once; run ids of runs
recorded before the search existed stay as they were."""

import math

import pytest
from pydantic import ValidationError
from test_tabular_train import ACCELERATOR, build, table

from tunebench.families.tabular.config import DEFAULT_SEARCH_RATES, DownstreamTrainingConfig
from tunebench.families.tabular.rate_search import candidate_rates, fit_at_best_rate
from tunebench.families.tabular.train import evaluate_downstream, train_downstream
from tunebench.training.config import ADDED_LATER, identity
from tunebench.training.loop import RunFailed


def search(problem: str, rates, max_epochs: int = 6, learning_rate="search"):
    train, validation = table(512, 0, problem), table(128, 1, problem)
    scale = (float(train.target.mean()), float(train.target.std()), None)
    if problem == "classification":
        scale = (None, None, None)
    config = DownstreamTrainingConfig(
        max_epochs=max_epochs,
        patience=max_epochs,
        batch_size=64,
        learning_rate=learning_rate,
        search_rates=rates,
    )
    d_out = 2 if problem == "classification" else 1

    def fit(model, settings):
        return train_downstream(model, problem, train, validation, settings, 0, ACCELERATOR, *scale)

    return fit_at_best_rate(lambda: build("mlp", d_out), fit, config, problem)


def test_the_candidate_best_on_validation_is_kept():
    # Six epochs at 1e-5 leave the MLP near chance; at 3e-3 it learns (> 0.85, test_tabular_train).
    choice = search("classification", (1e-5, 3e-3))
    scores = {entry["learning_rate"]: entry["validation"] for entry in choice.search}
    assert scores[3e-3] > 0.85 > scores[1e-5]
    assert choice.learning_rate == 3e-3
    assert choice.outcome.best_validation["accuracy"] == scores[3e-3]
    assert choice.train_seconds == pytest.approx(sum(e["train_seconds"] for e in choice.search))
    assert all(e["epochs"] == 6 and e["validation_seconds"] > 0 for e in choice.search)


def test_every_candidate_starts_from_the_same_weights_and_batches():
    choice = search("classification", (1e-3, 1e-3))
    first, second = choice.search
    assert first["validation"] == second["validation"]
    assert first["best_epoch"] == second["best_epoch"]
    assert first["validation_f1_macro"] == second["validation_f1_macro"]


def test_a_diverging_candidate_is_never_kept():
    choice = search("regression", (1e7, 1e-3))
    diverged, sane = choice.search
    assert diverged["validation"] is None and "training loss became nan" in diverged["diverged"]
    assert math.isfinite(sane["validation"])
    assert choice.learning_rate == 1e-3


def test_a_run_whose_every_candidate_diverges_fails_as_diverged():
    with pytest.raises(RunFailed, match="every candidate learning rate"):
        search("regression", (1e7, 1e8))


def test_a_fixed_rate_trains_once_at_that_rate():
    choice = search("classification", DEFAULT_SEARCH_RATES, max_epochs=2, learning_rate=3e-3)
    assert choice.learning_rate == 3e-3
    assert [entry["learning_rate"] for entry in choice.search] == [3e-3]


def test_the_default_is_the_search_over_the_documented_rates():
    config = DownstreamTrainingConfig()
    assert config.learning_rate == "search"
    assert candidate_rates(config) == (1e-4, 3e-4, 1e-3, 3e-3)
    assert candidate_rates(DownstreamTrainingConfig(learning_rate=1e-4)) == (1e-4,)


@pytest.mark.parametrize(
    "settings, field",
    [({"learning_rate": "fast"}, "learning_rate"), ({"search_rates": []}, "search_rates")],
)
def test_bad_rate_settings_name_the_field(settings, field):
    with pytest.raises(ValidationError, match=field):
        DownstreamTrainingConfig(**settings)


def test_run_ids_leave_the_default_candidates_out():
    """Runs recorded before the search (a fixed rate, no `search_rates`) keep their ids."""
    assert list(DEFAULT_SEARCH_RATES) == ADDED_LATER["downstream_training"]["search_rates"]
    dumped = DownstreamTrainingConfig(learning_rate=1e-4).model_dump(mode="json")
    before = {k: v for k, v in dumped.items() if k != "search_rates"}
    assert identity({"downstream_training": dumped}) == {"downstream_training": before}
    other = DownstreamTrainingConfig(search_rates=(1e-3,)).model_dump(mode="json")
    assert identity({"downstream_training": other})["downstream_training"]["search_rates"] == [1e-3]


def test_the_kept_model_is_the_one_that_scored_best():
    choice = search("classification", (3e-3, 1e-5))
    validation = table(128, 1, "classification")
    again = evaluate_downstream(choice.model, "classification", validation, choice_config())
    assert again["accuracy"] == choice.outcome.best_validation["accuracy"]
    assert again["accuracy"] > 0.85


def choice_config() -> DownstreamTrainingConfig:
    return DownstreamTrainingConfig(batch_size=64)
