"""What every task hands to training: fixed splits of texts (or text pairs) and integer labels."""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True)
class Split:
    """One split of a classification task. `text_pairs` is None for single-text tasks."""

    texts: list[str]
    labels: list[int]
    text_pairs: list[str] | None = None

    def __len__(self) -> int:
        return len(self.labels)


@dataclass(frozen=True)
class TaskData:
    """A loaded task: three fixed splits, the label names (index = label id), the data's hash."""

    name: str
    label_names: list[str]
    train: Split
    validation: Split
    test: Split
    data_sha256: str

    @property
    def num_labels(self) -> int:
        return len(self.label_names)


@dataclass(frozen=True)
class Rows:
    """A split as equal-length columns (lists); subclasses declare the columns."""

    def __len__(self) -> int:
        return len(getattr(self, fields(self)[0].name))

    def take(self, rows: list[int]):
        """The same split type holding only `rows`, in their order, in fresh lists."""
        return type(self)(
            **{f.name: [getattr(self, f.name)[i] for i in rows] for f in fields(self)}
        )
