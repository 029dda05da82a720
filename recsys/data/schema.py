"""Typing of feature columns: each user/item column becomes one :class:`ColumnKind`.

The kind decides how ``features.py`` turns a column into LightFM features (one-hot, quantile bins,
tags, boolean flag, recency bins, keywords). Inference is a guess over the whole column, made with
vectorised pandas operations; the marketer can override it on import.

>>> import pandas as pd
>>> infer_kind(pd.Series(["a|b", "b|c", "a", "c|a"] * 5))
<ColumnKind.TAGS: 'tags'>
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum

import numpy as np
import pandas as pd


class ColumnKind(str, Enum):
    """How a feature column is turned into model features."""

    CATEGORICAL = "categorical"  # one-hot
    NUMERIC = "numeric"  # quantile bins
    TAGS = "tags"  # multi-valued, separated by | ; or ,
    BOOLEAN = "boolean"  # one flag
    DATE = "date"  # recency bins
    TEXT = "text"  # free-text keywords
    IDENTIFIER = "identifier"  # a direct identifier (email, phone, name): never a feature
    IGNORE = "ignore"  # kept in the table, not used as a feature


TAG_SEPARATORS = "|;,"
_TAG_SPLIT = re.compile(r"\s*[|;,]\s*")
_BOOL_VALUES = {"true", "false", "yes", "no", "y", "n", "t", "f", "0", "1"}

#: Column names that are sensitive by default (lower-cased, compared as whole words of the name).
SENSITIVE_NAME_PARTS: tuple[str, ...] = (
    "gender", "sex", "age", "ageband", "agegroup", "birth", "dob", "ethnicity", "ethnic", "race",
    "religion", "disability", "marital", "nationality", "pregnan", "orientation",
)


@dataclass(frozen=True)
class ColumnSpec:
    """The typed description of one feature column."""

    name: str
    kind: ColumnKind
    sensitive: bool = False

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "kind": self.kind.value, "sensitive": self.sensitive}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> "ColumnSpec":
        return cls(str(data["name"]), ColumnKind(str(data["kind"])), bool(data.get("sensitive", False)))


@dataclass(frozen=True)
class TableSchema:
    """Typed feature columns of a users or items table (the key column is not listed)."""

    columns: tuple[ColumnSpec, ...] = field(default_factory=tuple)

    def kinds(self) -> dict[str, ColumnKind]:
        return {c.name: c.kind for c in self.columns}

    def sensitive(self) -> list[str]:
        return [c.name for c in self.columns if c.sensitive]

    def feature_columns(self, include_sensitive: bool = False) -> list[str]:
        """Columns that may become model features."""
        banned = {ColumnKind.IDENTIFIER, ColumnKind.IGNORE}
        return [
            c.name for c in self.columns
            if c.kind not in banned and (include_sensitive or not c.sensitive)
        ]

    def to_list(self) -> list[dict[str, object]]:
        return [c.to_dict() for c in self.columns]

    @classmethod
    def from_list(cls, data: list[dict[str, object]]) -> "TableSchema":
        return cls(tuple(ColumnSpec.from_dict(d) for d in data))

    def with_overrides(
        self, kinds: dict[str, ColumnKind] | None = None, sensitive: dict[str, bool] | None = None
    ) -> "TableSchema":
        kinds, sensitive = kinds or {}, sensitive or {}
        return TableSchema(tuple(
            ColumnSpec(c.name, kinds.get(c.name, c.kind), sensitive.get(c.name, c.sensitive))
            for c in self.columns
        ))


def is_sensitive_name(name: str) -> bool:
    """True when a column name suggests a protected attribute (gender, age, ...)."""
    words = [w for w in re.split(r"[^a-z0-9]+", name.lower()) if w]
    joined = "".join(words)
    return any(
        w.startswith(part) or joined == part for w in words for part in SENSITIVE_NAME_PARTS
    )


#: Kind inference looks at a seeded sample of this many non-missing values (a guess needs no more).
INFERENCE_SAMPLE = 20_000


def infer_kind(values: pd.Series) -> ColumnKind:
    """Guess the kind of one feature column from its values (a seeded sample of them)."""
    s = values.dropna()
    if s.empty:
        return ColumnKind.IGNORE
    if len(s) > INFERENCE_SAMPLE:
        s = s.sample(INFERENCE_SAMPLE, random_state=0)
    if pd.api.types.is_bool_dtype(s):
        return ColumnKind.BOOLEAN
    if pd.api.types.is_datetime64_any_dtype(s):
        return ColumnKind.DATE
    if pd.api.types.is_numeric_dtype(s):
        return ColumnKind.BOOLEAN if set(np.unique(s.to_numpy())) <= {0, 1} else ColumnKind.NUMERIC
    text = s.astype(str).str.strip()
    lowered = text.str.lower()
    if lowered.nunique() <= 2 and set(lowered.unique()) <= _BOOL_VALUES:
        return ColumnKind.BOOLEAN
    numeric = pd.to_numeric(text, errors="coerce")
    if numeric.notna().mean() > 0.98:
        return ColumnKind.NUMERIC
    if _looks_like_dates(text):
        return ColumnKind.DATE
    words = text.str.count(r"\s+") + 1
    n_unique = text.nunique()
    if words.mean() >= 4 and n_unique > 0.3 * len(text):
        return ColumnKind.TEXT
    has_separator = text.str.contains(r"[|;]", regex=True) | (text.str.contains(",") & (words <= 6))
    if has_separator.mean() > 0.2:
        tokens = text.str.split(_TAG_SPLIT, regex=True).explode()
        tokens = tokens[tokens.astype(bool)]
        short_tokens = (tokens.str.count(" ") + 1).mean() <= 3
        if short_tokens and tokens.nunique() <= n_unique:
            return ColumnKind.TAGS
    if _free_text_like(text, words, n_unique):
        return ColumnKind.TEXT
    return ColumnKind.CATEGORICAL


#: A column of strings is free-text-like (titles, names, descriptions) when nearly every row has its
#: own value (more than this share distinct) and the values are phrases, not codes.
TEXT_UNIQUE_SHARE = 0.5
TEXT_MIN_ROWS = 20
TEXT_MIN_WORDS = 2.5
TEXT_MIN_CHARS = 20


def _free_text_like(text: pd.Series, words: pd.Series, n_unique: int) -> bool:
    """High cardinality and long strings: a per-row category would learn nothing; keywords can.

    >>> titles = pd.Series([f"Spring sale {i} off toys" for i in range(30)])
    >>> infer_kind(titles).value
    'text'
    >>> infer_kind(pd.Series([f"SKU{i}" for i in range(30)])).value
    'categorical'
    """
    if len(text) < TEXT_MIN_ROWS or n_unique <= TEXT_UNIQUE_SHARE * len(text):
        return False
    return bool(words.mean() >= TEXT_MIN_WORDS or text.str.len().mean() >= TEXT_MIN_CHARS)


def _looks_like_dates(text: pd.Series) -> bool:
    if not text.str.contains(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}", regex=True).mean() > 0.9:
        return False
    parsed = pd.to_datetime(text, errors="coerce", format="mixed")
    return bool(parsed.notna().mean() > 0.9)


_TEXT_KINDS = frozenset({ColumnKind.CATEGORICAL, ColumnKind.TEXT, ColumnKind.TAGS})
#: A customer text column with more distinct values than this share of its rows is never a feature.
PER_ROW_TEXT_SHARE = 0.5


def is_per_row_text(values: pd.Series) -> bool:
    """True for text that is (nearly) unique per row: free notes, names, addresses of customers.

    >>> is_per_row_text(pd.Series([f"Customer {i} <c{i}@example.com>" for i in range(40)]))
    True
    >>> is_per_row_text(pd.Series(["gold", "silver"] * 20))
    False
    """
    s = values.dropna()
    if len(s) < 20 or pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
        return False
    return bool(s.astype(str).nunique() > PER_ROW_TEXT_SHARE * len(s))


def infer_schema(table: pd.DataFrame, key: str, identifiers: set[str] | None = None) -> TableSchema:
    """Type every non-key column of a users or items table.

    ``identifiers`` are columns found to hold direct identifiers (see ``privacy.py``); they are
    typed :attr:`ColumnKind.IDENTIFIER` and so never become features.
    """
    identifiers = identifiers or set()
    specs = []
    for name in table.columns:  # a loop over columns, not rows
        if name == key:
            continue
        kind = ColumnKind.IDENTIFIER if name in identifiers else infer_kind(table[name])
        if key == "user_id" and kind in _TEXT_KINDS and is_per_row_text(table[name]):
            kind = ColumnKind.IGNORE  # text nearly unique per customer: identifies, never generalises
        specs.append(ColumnSpec(str(name), kind, is_sensitive_name(str(name))))
    return TableSchema(tuple(specs))


def explode_tags(values: pd.Series) -> pd.Series:
    """One row per (row, tag): stripped, non-empty tags, indexed by the original row label.

    >>> explode_tags(pd.Series(["a | b", None, "c"])).tolist()
    ['a', 'b', 'c']
    """
    exploded = values.dropna().astype(str).str.strip().str.split(_TAG_SPLIT, regex=True).explode()
    return exploded[exploded.astype(bool) & exploded.notna()].astype(str)


def split_tags(values: pd.Series) -> pd.Series:
    """Lists of stripped tags per row ([] for empty cells). Prefer :func:`explode_tags` on
    large columns: it never builds Python lists."""
    text = values.fillna("").astype(str).str.strip()
    lists = text.str.split(_TAG_SPLIT, regex=True).astype(object)
    empty = text.eq("").to_numpy()
    if empty.any():
        lists[empty] = pd.Series([[] for _ in range(int(empty.sum()))], index=lists.index[empty], dtype=object)
    return lists
