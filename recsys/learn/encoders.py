"""Column encoders: each learns one typed column from the training rows and encodes any rows.

One encoder per :class:`~recsys.data.schema.ColumnKind`: :class:`CategoricalEncoder` (frequent
values), :class:`NumericEncoder` (quantile bins), :class:`TagsEncoder` (multi-valued lists),
:class:`BooleanEncoder`, :class:`DateEncoder` (recency bins) and :class:`TextEncoder` (a keyword
vocabulary). An encoder is fitted on the training entities only (so held-out rows never shape
categories, bin edges or vocabularies), encodes a column as (row, column, weight) triplets, names
its features for people (:class:`FeatureIndex`), saves its state as JSON and can ``grow`` to new
values without moving the known ones. :func:`make_encoder` picks the encoder of a column kind;
:class:`recsys.learn.features.FeatureBuilder` assembles them into a feature matrix.

>>> import pandas as pd
>>> from recsys.learn.config import FeatureConfig
>>> enc = make_encoder("segment", ColumnKind.CATEGORICAL, None).fit(pd.Series(["x", "y", "x"]), FeatureConfig())
>>> enc.labels(), enc.transform(pd.Series(["y", "z"]))[1].tolist()
(['x', 'y'], [1])
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import CountVectorizer

from recsys.core.arrays import factorize, repeated
from recsys.data.schema import TAG_SEPARATORS, ColumnKind
from recsys.learn import tokens
from recsys.learn.config import FeatureConfig

# Columns of FeatureIndex.frame.
FEATURE = "feature"
SOURCE = "source"
LABEL = "label"
KIND = "kind"

_TRUE_STRINGS = ("true", "yes", "y", "t", "1")
_TAG_SPLIT = "[" + TAG_SEPARATORS + "]"
_DAY = np.timedelta64(1, "D")


# --------------------------------------------------------------------------------------------
# Feature index
# --------------------------------------------------------------------------------------------


@dataclass
class FeatureIndex:
    """Readable description of every column of a feature matrix.

    ``names[j]`` is what a marketer reads ("segment = bargain hunter"), ``sources[j]`` the input
    column it comes from (or the identity source), ``labels[j]`` the value part ("bargain hunter"),
    ``kinds[j]`` the :class:`ColumnKind` value or ``"identity"``.
    """

    names: np.ndarray
    sources: np.ndarray
    labels: np.ndarray
    kinds: np.ndarray

    def __len__(self) -> int:
        return len(self.names)

    @property
    def frame(self) -> pd.DataFrame:
        return pd.DataFrame({FEATURE: self.names, SOURCE: self.sources, LABEL: self.labels, KIND: self.kinds})

    @classmethod
    def empty(cls) -> "FeatureIndex":
        e = np.zeros(0, dtype=object)
        return cls(e, e.copy(), e.copy(), e.copy())

    @classmethod
    def concat(cls, parts: list["FeatureIndex"]) -> "FeatureIndex":
        if not parts:
            return cls.empty()
        return cls(*(np.concatenate([getattr(p, a) for p in parts]).astype(object) for a in ("names", "sources", "labels", "kinds")))

    def to_arrays(self, prefix: str) -> dict[str, np.ndarray]:
        return {f"{prefix}{a}": _str_array(getattr(self, a)) for a in ("names", "sources", "labels", "kinds")}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], prefix: str) -> "FeatureIndex":
        return cls(*(np.asarray(arrays[f"{prefix}{a}"], dtype=object) for a in ("names", "sources", "labels", "kinds")))


def _str_array(values: np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=str) if len(values) else np.zeros(0, dtype="<U1")


# --------------------------------------------------------------------------------------------
# Column encoders: each learns from training rows and encodes any rows as (row, column, weight)
# --------------------------------------------------------------------------------------------

Triplets = tuple[np.ndarray, np.ndarray, np.ndarray]


def _fmt(x: float) -> str:
    if not math.isfinite(x):
        return str(x)
    if x == int(x) and abs(x) < 1e15:
        return f"{int(x):,}"
    return f"{x:,.3g}" if abs(x) >= 1 else f"{x:.3g}"


class Encoder:
    kind: str = ""

    def __init__(self, column: str) -> None:
        self.column = column

    def fit(self, values: pd.Series, cfg: FeatureConfig) -> "Encoder":
        raise NotImplementedError

    def transform(self, values: pd.Series) -> Triplets:
        raise NotImplementedError

    def index(self) -> FeatureIndex:
        labels = np.asarray(self.labels(), dtype=object)
        names = np.asarray([self.name(lbl) for lbl in labels], dtype=object)  # loop over features, not rows
        n = len(labels)
        return FeatureIndex(names, repeated(self.column, n), labels, repeated(self.kind, n))

    def labels(self) -> list[str]:
        raise NotImplementedError

    def name(self, label: str) -> str:
        return f"{self.column} = {label}"

    def state(self) -> dict[str, Any]:
        raise NotImplementedError

    def load_state(self, state: dict[str, Any]) -> "Encoder":
        raise NotImplementedError

    def grow(self, values: pd.Series, cfg: FeatureConfig) -> list[str]:
        """Append the values of ``values`` not yet known (new features); return their labels.

        Known labels keep their positions. Encoders with a fixed vocabulary (numeric bins, booleans,
        date recency bins) never grow.
        """
        return []


def _label_codes(values: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """(code per row, label per code): one factorize pass over the rows; only the distinct
    values are turned into stripped labels (numbers in a clean form: 3.0 -> '3')."""
    codes, uniques = factorize(values)
    return codes, _as_text(pd.Series(uniques, dtype=values.dtype if not isinstance(values.dtype, pd.StringDtype) else object))


def _frequent(values: pd.Series, cfg: FeatureConfig) -> list[str]:
    codes, labels = _label_codes(values)
    counts = np.bincount(codes[codes >= 0], minlength=len(labels))
    table = pd.DataFrame({"v": labels.to_numpy(object), "n": counts}).dropna()
    table = table.groupby("v", as_index=False, sort=False)["n"].sum()  # values equal once stripped
    table = table[table["n"] >= cfg.min_count]
    # Most frequent first, then alphabetical, for a stable choice; stored sorted.
    table = table.sort_values(["n", "v"], ascending=[False, True]).head(cfg.max_categories)
    return sorted(table["v"].astype(str).tolist())


def _codes(values: pd.Series, categories: list[str]) -> np.ndarray:
    """Position of each value in ``categories`` (-1: missing or unseen), via a hash index."""
    codes, labels = _label_codes(values)
    if not categories or len(labels) == 0:
        return np.full(len(values), -1, dtype=np.int64)
    mapped = pd.Index(categories, dtype=object).get_indexer(pd.Index(labels.to_numpy(object), dtype=object))
    return np.where(codes >= 0, mapped[np.maximum(codes, 0)], -1).astype(np.int64)


class CategoricalEncoder(Encoder):
    kind = ColumnKind.CATEGORICAL.value

    def fit(self, values: pd.Series, cfg: FeatureConfig) -> "CategoricalEncoder":
        self.categories = _frequent(values, cfg)
        return self

    def transform(self, values: pd.Series) -> Triplets:
        codes = _codes(values, self.categories)
        rows = np.flatnonzero(codes >= 0)
        return rows, codes[rows], np.ones(len(rows))

    def labels(self) -> list[str]:
        return list(self.categories)

    def state(self) -> dict[str, Any]:
        return {"categories": self.categories}

    def load_state(self, state: dict[str, Any]) -> "CategoricalEncoder":
        self.categories = list(state["categories"])
        return self

    def grow(self, values: pd.Series, cfg: FeatureConfig) -> list[str]:
        new = _unseen(_frequent(values, cfg), self.categories, cfg.max_categories)
        self.categories += new
        return new


def _as_text(values: pd.Series) -> pd.Series:
    """Values as stripped strings, missing stays missing (numbers keep a clean form: 3.0 -> '3')."""
    if pd.api.types.is_float_dtype(values):
        num = values.astype(np.float64)
        as_int = num.where(num.isna() | (num != num.round()), num.round())
        text = as_int.map(lambda x: x if pd.isna(x) else _fmt(x).replace(",", ""), na_action="ignore")
        return text.astype(object).where(num.notna(), None)
    text = values.astype(object).where(values.notna(), None)
    text = pd.Series(text, index=values.index, dtype=object)
    mask = text.notna()
    out = text.copy()
    out[mask] = text[mask].astype(str).str.strip()
    out = out.where(out.astype(str) != "", None)
    return out


class NumericEncoder(Encoder):
    """Quantile bins learned on training rows; values outside the range go to the end bins."""

    kind = ColumnKind.NUMERIC.value

    def fit(self, values: pd.Series, cfg: FeatureConfig) -> "NumericEncoder":
        x = _numeric(values, self.column)
        x = x[np.isfinite(x)]
        self.exact: list[float] = []
        self.edges: list[float] = []
        uniq = np.unique(x)
        if len(uniq) == 0:
            return self
        if len(uniq) <= cfg.n_bins:
            self.exact = [float(v) for v in uniq]
            return self
        edges = np.unique(np.quantile(x, np.linspace(0, 1, cfg.n_bins + 1)))
        self.edges = [float(e) for e in edges]
        return self

    def transform(self, values: pd.Series) -> Triplets:
        x = _numeric(values, self.column)
        ok = np.isfinite(x)
        if self.exact:
            exact = np.asarray(self.exact)
            pos = np.searchsorted(exact, x)
            pos_c = np.minimum(pos, len(exact) - 1)
            ok &= exact[pos_c] == x
            rows = np.flatnonzero(ok)
            return rows, pos_c[rows], np.ones(len(rows))
        if len(self.edges) < 2:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
        inner = np.asarray(self.edges[1:-1])
        bins = np.searchsorted(inner, x, side="right")
        rows = np.flatnonzero(ok)
        return rows, bins[rows], np.ones(len(rows))

    def labels(self) -> list[str]:
        if self.exact:
            return [_fmt(v) for v in self.exact]
        e = self.edges
        if len(e) < 2:
            return []
        n = len(e) - 1
        if n == 1:
            return [f"{_fmt(e[0])}–{_fmt(e[1])}"]
        out = [f"< {_fmt(e[1])}"]
        out += [f"{_fmt(e[i])}–{_fmt(e[i + 1])}" for i in range(1, n - 1)]
        out.append(f"≥ {_fmt(e[n - 1])}")
        return out

    def name(self, label: str) -> str:
        return f"{self.column} = {label}" if self.exact else f"{self.column} {label}"

    def state(self) -> dict[str, Any]:
        return {"exact": self.exact, "edges": self.edges}

    def load_state(self, state: dict[str, Any]) -> "NumericEncoder":
        self.exact = [float(v) for v in state["exact"]]
        self.edges = [float(v) for v in state["edges"]]
        return self


def _numeric(values: pd.Series, column: str) -> np.ndarray:
    if pd.api.types.is_bool_dtype(values):
        return values.astype(np.float64).to_numpy()
    num = pd.to_numeric(values, errors="coerce")
    bad = num.isna() & values.notna()
    if bad.any():
        sample = values[bad].astype(str).head(3).tolist()
        raise ValueError(
            f"column {column!r} is typed numeric but has non-numeric values such as {sample}; "
            "retype it as categorical or fix those rows"
        )
    return num.to_numpy(np.float64, na_value=np.nan)


def _explode_tags(values: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """(row position, stripped tag) for every non-empty tag of every row (vectorised)."""
    text = pd.Series(values.to_numpy(object), dtype=object).where(values.notna().to_numpy(), None)
    text = text.dropna().astype(str)
    exploded = text.str.split(_TAG_SPLIT, regex=True).explode().astype(str).str.strip()
    exploded = exploded[exploded.str.len() > 0]
    return exploded.index.to_numpy(np.int64), exploded


class TagsEncoder(Encoder):
    kind = ColumnKind.TAGS.value

    def fit(self, values: pd.Series, cfg: FeatureConfig) -> "TagsEncoder":
        _, tags = _explode_tags(values)
        # a tag counts once per row for min_count
        self.tags = _frequent(tags, cfg)
        return self

    def transform(self, values: pd.Series) -> Triplets:
        rows, tags = _explode_tags(values)
        codes = _codes(tags, self.tags)
        keep = codes >= 0
        rows, codes = rows[keep], codes[keep]
        if len(rows):  # a row's repeated tag counts once
            n = max(len(self.tags), 1)
            key = np.unique(rows * n + codes)
            rows, codes = key // n, key % n
        return rows, codes, _share_per_row(rows)

    def labels(self) -> list[str]:
        return list(self.tags)

    def name(self, label: str) -> str:
        return f"{self.column} includes {label}"

    def state(self) -> dict[str, Any]:
        return {"tags": self.tags}

    def load_state(self, state: dict[str, Any]) -> "TagsEncoder":
        self.tags = list(state["tags"])
        return self

    def grow(self, values: pd.Series, cfg: FeatureConfig) -> list[str]:
        _, tags = _explode_tags(values)
        new = _unseen(_frequent(tags, cfg), self.tags, cfg.max_categories)
        self.tags += new
        return new


def _unseen(candidates: list[str], known: list[str], limit: int) -> list[str]:
    """Candidates not in ``known``, in their order, as many as ``limit`` leaves room for."""
    have = set(known)
    return [c for c in candidates if c not in have][: max(limit - len(known), 0)]


def _share_per_row(rows: np.ndarray) -> np.ndarray:
    """1 / (number of entries of the row): a multi-valued column weighs 1 in total per row."""
    if len(rows) == 0:
        return np.zeros(0)
    counts = np.bincount(rows)
    return 1.0 / counts[rows]


class BooleanEncoder(Encoder):
    kind = ColumnKind.BOOLEAN.value

    def fit(self, values: pd.Series, cfg: FeatureConfig) -> "BooleanEncoder":
        return self

    def transform(self, values: pd.Series) -> Triplets:
        flags = _as_bool(values)
        rows = np.flatnonzero(flags)
        return rows, np.zeros(len(rows), np.int64), np.ones(len(rows))

    def labels(self) -> list[str]:
        return ["yes"]

    def state(self) -> dict[str, Any]:
        return {}

    def load_state(self, state: dict[str, Any]) -> "BooleanEncoder":
        return self


def _as_bool(values: pd.Series) -> np.ndarray:
    if pd.api.types.is_bool_dtype(values):
        return values.fillna(False).to_numpy(bool)
    if pd.api.types.is_numeric_dtype(values):
        return (values.fillna(0).to_numpy(np.float64) != 0)
    text = values.astype(object).where(values.notna(), "").astype(str).str.strip().str.lower()
    return text.isin(_TRUE_STRINGS).to_numpy(bool)


class DateEncoder(Encoder):
    """Recency bins relative to a reference time (the end of the training data)."""

    kind = ColumnKind.DATE.value

    def __init__(self, column: str, reference_time: pd.Timestamp | None) -> None:
        super().__init__(column)
        self.reference_time = reference_time

    def fit(self, values: pd.Series, cfg: FeatureConfig) -> "DateEncoder":
        self.bins = [int(b) for b in cfg.date_bins_days]
        if self.reference_time is None:
            dates = _dates(values)
            self.reference_time = None if dates.isna().all() else pd.Timestamp(dates.max())
        return self

    def transform(self, values: pd.Series) -> Triplets:
        dates = _dates(values).to_numpy("datetime64[ns]")
        if self.reference_time is None:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
        age = (np.datetime64(self.reference_time, "ns") - dates) / _DAY
        ok = ~np.isnan(age)
        # bin 0: in the future; bin j: (edge[j-1], edge[j]] days ago
        b = np.where(age < 0, 0, 1 + np.searchsorted(np.asarray(self.bins, float), age, side="left"))
        rows = np.flatnonzero(ok)
        return rows, b[rows].astype(np.int64), np.ones(len(rows))

    def labels(self) -> list[str]:
        e = self.bins
        out = ["in the future", f"last {_span(0, e[0])}"]
        out += [f"{_span(a, b)} ago" for a, b in zip(e, e[1:])]
        out.append(f"over {_span(0, e[-1])} ago")
        return out

    def name(self, label: str) -> str:
        return f"{self.column}: {label}"

    def state(self) -> dict[str, Any]:
        ref = None if self.reference_time is None else self.reference_time.isoformat()
        return {"bins": self.bins, "reference_time": ref}

    def load_state(self, state: dict[str, Any]) -> "DateEncoder":
        self.bins = [int(b) for b in state["bins"]]
        ref = state["reference_time"]
        self.reference_time = None if ref is None else pd.Timestamp(ref)
        return self


def _span(a: int, b: int) -> str:
    """'30–90 days', '1–2 years', '180 days–1 year'; with a == 0 just the upper end ('30 days')."""

    def unit(d: int) -> tuple[int, str]:
        return (d // 365, "year") if d and d % 365 == 0 else (d, "day")

    (va, ua), (vb, ub) = unit(a), unit(b)
    plural = lambda v, u: f"{v} {u}" + ("s" if v != 1 else "")  # noqa: E731
    if a == 0:
        return plural(vb, ub)
    if ua == ub:
        return f"{va}–{plural(vb, ub)}"
    return f"{plural(va, ua)}–{plural(vb, ub)}"


def _dates(values: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(values):
        d = values
    else:
        d = pd.to_datetime(values, errors="coerce", format="mixed")
    if getattr(d.dt, "tz", None) is not None:
        d = d.dt.tz_convert("UTC").dt.tz_localize(None)
    return d.astype("datetime64[ns]")


class TextEncoder(Encoder):
    """Keywords of a free-text column (scikit-learn CountVectorizer over :func:`recsys.learn.tokens.words`,
    so Chinese is segmented into words; vocabulary from training rows)."""

    kind = ColumnKind.TEXT.value

    def fit(self, values: pd.Series, cfg: FeatureConfig) -> "TextEncoder":
        docs = values.astype(object).where(values.notna(), "").astype(str)
        # min_count counts rows: fit on the unique texts, then count rows per keyword
        codes, uniques = pd.factorize(docs)
        vec = self._vectorizer(None, 1)
        try:
            m = vec.fit_transform(uniques)
        except ValueError:  # no keyword survives (empty texts, only stop words)
            self.vocabulary = []
            return self
        rows_per_text = np.bincount(codes, minlength=len(uniques)).astype(np.float64)
        df = np.asarray(m.T @ rows_per_text).ravel()
        words = np.asarray(vec.get_feature_names_out(), dtype=object)
        order = pd.DataFrame({"w": words, "n": df})
        order = order[order["n"] >= cfg.min_count].sort_values(["n", "w"], ascending=[False, True])
        self.vocabulary = sorted(order["w"].head(cfg.max_keywords).tolist())
        return self

    @staticmethod
    def _vectorizer(max_features: int | None, min_df: int, vocabulary: list[str] | None = None) -> CountVectorizer:
        return CountVectorizer(
            # words: Chinese segmented by jieba, other scripts as before (letters only, 3 or more)
            lowercase=True, stop_words="english", tokenizer=tokens.words, token_pattern=None,
            max_features=max_features, min_df=min_df, binary=True, vocabulary=vocabulary,
            dtype=np.float64,
        )

    def transform(self, values: pd.Series) -> Triplets:
        if not self.vocabulary:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
        docs = values.astype(object).where(values.notna(), "").astype(str)
        codes, uniques = pd.factorize(docs)
        per_text = self._vectorizer(None, 1, self.vocabulary).transform(uniques).tocsr()
        m = per_text[codes].tocoo()  # repeated texts are tokenised once
        rows = m.row.astype(np.int64)
        return rows, m.col.astype(np.int64), _share_per_row(rows)

    def labels(self) -> list[str]:
        return list(self.vocabulary)

    def name(self, label: str) -> str:
        return f"{self.column} mentions “{label}”"

    def state(self) -> dict[str, Any]:
        return {"vocabulary": self.vocabulary}

    def load_state(self, state: dict[str, Any]) -> "TextEncoder":
        self.vocabulary = list(state["vocabulary"])
        return self

    def grow(self, values: pd.Series, cfg: FeatureConfig) -> list[str]:
        fresh = TextEncoder(self.column).fit(values, cfg)
        new = _unseen(fresh.vocabulary, self.vocabulary, cfg.max_keywords)
        self.vocabulary += new
        return new


def make_encoder(column: str, kind: ColumnKind, reference_time: pd.Timestamp | None) -> Encoder | None:
    if kind == ColumnKind.CATEGORICAL:
        return CategoricalEncoder(column)
    if kind == ColumnKind.NUMERIC:
        return NumericEncoder(column)
    if kind == ColumnKind.TAGS:
        return TagsEncoder(column)
    if kind == ColumnKind.BOOLEAN:
        return BooleanEncoder(column)
    if kind == ColumnKind.DATE:
        return DateEncoder(column, reference_time)
    if kind == ColumnKind.TEXT:
        return TextEncoder(column)
    return None


__all__ = [
    "FEATURE", "SOURCE", "LABEL", "KIND", "FeatureIndex", "Triplets", "Encoder", "CategoricalEncoder",
    "NumericEncoder", "TagsEncoder", "BooleanEncoder", "DateEncoder", "TextEncoder", "make_encoder",
]
