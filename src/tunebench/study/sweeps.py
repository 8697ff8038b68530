"""Hyperparameter sweeps: a search space over any method or training setting of a study.

A point of the space is a set of overrides, e.g. `{"method.r": 8, "training.learning_rate":
3e-4}`, applied to every cell of the study's grid. The overrides become part of each run's
resolved config, so its run id, so a sweep resumes through the results store like any study.

- `grid`: every combination of the listed values (ranges need a `step`).
- `random`: `trials` points drawn by Optuna's seeded RandomSampler: the same points on a re-run.
- `tpe`: Optuna's TPE sampler, `trials` points, each asked for once the validation results of
  the earlier ones are in; on a re-run the finished trials are replayed into the sampler.

Listed values (which may be lists themselves, e.g. target modules) are categorical: Optuna sees
their index. A range `{low, high}` is an integer range when both ends are integers.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, field_validator, model_validator

if TYPE_CHECKING:  # optuna is imported where a sweep samples: study files validate without it
    import optuna
    from optuna.distributions import BaseDistribution

Point = dict[str, Any]
"""`{"method.r": 8, "training.scheduler": "cosine"}`: one set of overrides."""
SECTIONS = ("method", "training", "task")


class Range(BaseModel):
    """A numeric interval; integers when `low` and `high` are integers."""

    model_config = ConfigDict(extra="forbid")
    low: int | float
    high: int | float
    log: bool = False
    step: int | float | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Range:
        if not self.low < self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        if self.log and (self.step is not None or self.low <= 0):
            raise ValueError("a log range needs low > 0 and no step")
        return self

    @property
    def integer(self) -> bool:
        return all(isinstance(v, int) for v in (self.low, self.high, self.step or 1))

    def distribution(self) -> BaseDistribution:
        from optuna.distributions import FloatDistribution, IntDistribution

        if self.integer:
            return IntDistribution(self.low, self.high, log=self.log, step=self.step or 1)
        return FloatDistribution(self.low, self.high, log=self.log, step=self.step)

    def grid_values(self) -> list[int | float]:
        count = int(round((self.high - self.low) / self.step)) + 1
        values = [self.low + i * self.step for i in range(count)]
        return values if self.integer else [round(v, 12) for v in values]


class SweepConfig(BaseModel):
    """The `sweep:` section of a study."""

    model_config = ConfigDict(extra="forbid")
    strategy: Literal["grid", "random", "tpe"] = "grid"
    space: dict[str, list[Any] | Range] = Field(min_length=1)
    """`method.<setting>`, `training.<setting>` or `task.<setting>` -> a list of values or a
    range."""
    trials: PositiveInt | None = None
    """random and tpe: how many points to run."""
    seed: int = 0
    """The sampler's seed (random, tpe)."""
    metric: str | None = None
    """tpe: the validation metric to optimise (default: the runs' `selection_metric`)."""
    startup_trials: PositiveInt = 5
    """tpe: random points before TPE starts modelling the results (Optuna's default is 10)."""

    @field_validator("space")
    @classmethod
    def _known_sections(cls, space: dict[str, Any]) -> dict[str, Any]:
        for key, values in space.items():
            section, _, setting = key.partition(".")
            if section not in SECTIONS or not setting:
                raise ValueError(
                    f"{key!r}: name a `method.<setting>`, `training.<setting>` or `task.<setting>`"
                )
            if isinstance(values, list) and not values:
                raise ValueError(f"{key!r}: list at least one value")
        return space

    @model_validator(mode="after")
    def _fits_strategy(self) -> SweepConfig:
        if self.strategy == "grid":
            if self.trials is not None:
                raise ValueError("trials: a grid runs every combination; drop `trials`")
            for key, values in self.space.items():
                if isinstance(values, Range) and values.step is None:
                    raise ValueError(f"space.{key}: a grid needs a list of values or a step")
        elif self.trials is None:
            raise ValueError(f"trials: a {self.strategy} sweep needs a trial budget")
        return self

    def distributions(self) -> dict[str, BaseDistribution]:
        from optuna.distributions import CategoricalDistribution

        return {
            key: CategoricalDistribution(list(range(len(values))))
            if isinstance(values, list)
            else values.distribution()
            for key, values in self.space.items()
        }

    def decode(self, params: dict[str, Any]) -> Point:
        """Optuna's params (indices for listed values) -> the point's override values."""
        return {
            key: values[params[key]] if isinstance(values, list) else params[key]
            for key, values in self.space.items()
        }

    def encode(self, point: Point) -> dict[str, Any] | None:
        """A point -> Optuna's params; None when the point lies outside this space."""
        params = {}
        for key, values in self.space.items():
            value = point.get(key)
            if isinstance(values, list):
                if value not in values:
                    return None
                params[key] = values.index(value)
            elif value is None or not values.low <= value <= values.high:
                return None
            else:
                params[key] = value
        return params


def fixed_points(sweep: SweepConfig | None) -> list[Point]:
    """The points a grid or random sweep runs (one empty point without a sweep)."""
    if sweep is None:
        return [{}]
    if sweep.strategy == "grid":
        axes = [v if isinstance(v, list) else v.grid_values() for v in sweep.space.values()]
        return [dict(zip(sweep.space, combo, strict=True)) for combo in itertools.product(*axes)]
    if sweep.strategy == "random":
        search = new_search(sweep, "minimize")
        return [ask(search, sweep, index)[1] for index in range(sweep.trials)]
    raise ValueError("a tpe sweep's points depend on its results: see study.run_tpe")


def example_points(sweep: SweepConfig) -> list[Point]:
    """The first and the last value of every dimension: enough to validate the overrides."""
    ends = [(v[0], v[-1]) if isinstance(v, list) else (v.low, v.high) for v in sweep.space.values()]
    return [dict(zip(sweep.space, side, strict=True)) for side in zip(*ends, strict=True)]


def split_point(point: Point) -> tuple[dict[str, Any], ...]:
    """A point -> its overrides of each section: (method, training, task)."""
    return tuple(
        {k.partition(".")[2]: v for k, v in point.items() if k.startswith(f"{section}.")}
        for section in SECTIONS
    )


def point_of(config: dict[str, Any], sweep: SweepConfig) -> Point:
    """The point a recorded run was made at, read back from its resolved config."""
    point = {}
    for key in sweep.space:
        section, _, setting = key.partition(".")
        point[key] = config.get(section, {}).get(setting)
    return point


def new_search(sweep: SweepConfig, direction: str) -> optuna.Study:
    """An in-memory Optuna study (the results store keeps the results)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study(direction=direction, sampler=_sampler(sweep, 0))


def ask(
    search: optuna.Study, sweep: SweepConfig, index: int, attempt: int = 0
) -> tuple[optuna.trial.Trial, Point]:
    """The sampler's `index`-th point (its `attempt`-th try), as an open trial closed by `tell`.

    The sampler is re-seeded from (index, attempt): what it asks depends on the results so far,
    never on how many processes it took to get them, so a resumed sweep asks the same points.
    """
    search.sampler = _sampler(sweep, 1000 * index + attempt)
    trial = search.ask(sweep.distributions())
    return trial, sweep.decode(trial.params)


def _sampler(sweep: SweepConfig, offset: int) -> optuna.samplers.BaseSampler:
    import optuna

    seed = sweep.seed * 1_000_003 + offset
    if sweep.strategy == "tpe":
        return optuna.samplers.TPESampler(
            seed=seed, n_startup_trials=sweep.startup_trials, constant_liar=True
        )
    return optuna.samplers.RandomSampler(seed=seed)


def tell(search: optuna.Study, trial: optuna.trial.Trial, value: float | None) -> None:
    """Close a trial with its objective; None (all its runs failed, or a repeated point) closes
    it as failed, which TPE leaves out of its model."""
    import optuna

    if value is None:
        search.tell(trial, state=optuna.trial.TrialState.FAIL)
    else:
        search.tell(trial, value)


def replay(search: optuna.Study, sweep: SweepConfig, point: Point, value: float | None) -> None:
    """Add a point finished by an earlier invocation to the sampler's history."""
    import optuna

    search.add_trial(
        optuna.trial.create_trial(
            params=sweep.encode(point),
            distributions=sweep.distributions(),
            value=value,
            state=optuna.trial.TrialState.COMPLETE
            if value is not None
            else optuna.trial.TrialState.FAIL,
        )
    )
