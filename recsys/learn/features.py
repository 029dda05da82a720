"""Interaction and feature matrices for LightFM, built with whole-column operations.

Two jobs, both vectorised (pandas Categorical codes, numpy, scipy.sparse; no Python loop over rows):

* **interactions** -> a weighted user x item matrix. Each event gets the weight of its type
  (:data:`recsys.core.columns.DEFAULT_EVENT_WEIGHTS`, changeable; or the imported ``weight`` column
  on request), times an optional time decay ``0.5 ** (age_days / half_life_days)``. Duplicates of a
  user-item pair are aggregated by **summing** their weights; pairs whose sum is > 0 are the
  positives. See :func:`interaction_weights` and :func:`build_interactions`.
* **users / items tables** -> feature matrices, one column per readable feature
  ("segment = bargain hunter", "discount_depth 30–50"), see :class:`FeatureBuilder`. Encoders
  (categories, quantile bin edges, tag lists, keyword vocabularies) are learned on the training
  entities only and then applied to any row, so held-out rows never shape the features.

>>> import pandas as pd
>>> from recsys.data.schema import ColumnKind, ColumnSpec, TableSchema
>>> users = pd.DataFrame({"user_id": ["a", "b"], "segment": ["x", "y"]})
>>> schema = TableSchema((ColumnSpec("segment", ColumnKind.CATEGORICAL),))
>>> fb = FeatureBuilder(schema, "user_id").fit(users, IdIndex.from_values(users["user_id"]))
>>> list(fb.feature_index_.names)
["this customer's own history (a)", "this customer's own history (b)", 'segment = x', 'segment = y']
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer

from recsys.core import columns as C
from recsys.data.schema import TAG_SEPARATORS, ColumnKind, TableSchema

#: Source label of the identity feature of a user / an item (the explanation module groups by it).
USER_IDENTITY_SOURCE = "this customer's own history"
ITEM_IDENTITY_SOURCE = "this offer's own track record"
IDENTITY_KIND = "identity"

# Columns of FeatureIndex.frame (not data-contract columns, so they live here).
FEATURE = "feature"
SOURCE = "source"
LABEL = "label"
KIND = "kind"

_TRUE_STRINGS = ("true", "yes", "y", "t", "1")
_TAG_SPLIT = "[" + TAG_SEPARATORS + "]"
_DAY = np.timedelta64(1, "D")


# --------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InteractionConfig:
    """How raw events become interaction strengths.

    Parameters
    ----------
    event_weights
        Weight of each event type (compared after lower-casing and stripping). ``None`` means
        :data:`recsys.core.columns.DEFAULT_EVENT_WEIGHTS` (impressions weigh 0, i.e. are not positives).
    unknown_event_weight
        Weight of an event type not listed in ``event_weights``.
    half_life_days
        Optional exponential time decay: an event ``a`` days older than the reference time
        weighs ``0.5 ** (a / half_life_days)`` of a fresh one. ``None`` means no decay.
    use_weight_column
        Use the imported ``weight`` column instead of the event weights (rows where it is missing
        fall back to their event weight). The import layer already folds its own event weights
        into that column, so turn this on for files that came with their own weights or ratings;
        off (default), the event weights here decide, so changing them changes the model.
    """

    event_weights: dict[str, float] | None = None
    unknown_event_weight: float = 1.0
    half_life_days: float | None = None
    use_weight_column: bool = False

    def weights(self) -> dict[str, float]:
        source = C.DEFAULT_EVENT_WEIGHTS if self.event_weights is None else self.event_weights
        return {str(k).strip().lower(): float(v) for k, v in source.items()}

    def validate(self) -> None:
        for name, w in self.weights().items():
            if not math.isfinite(w):
                raise ValueError(f"event_weights[{name!r}] must be a finite number, got {w!r}")
        if not math.isfinite(self.unknown_event_weight):
            raise ValueError(f"unknown_event_weight must be finite, got {self.unknown_event_weight!r}")
        if self.half_life_days is not None and not (self.half_life_days > 0):
            raise ValueError(f"half_life_days must be > 0 or None, got {self.half_life_days!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "InteractionConfig":
        return cls(**_known_fields(cls, data))


@dataclass(frozen=True)
class FeatureConfig:
    """Options of the side-feature matrices.

    Parameters
    ----------
    use_side_features
        Build features from the users/items columns (False gives a collaborative-only model).
    include_sensitive
        Also use columns marked sensitive (gender, age, ...). Off by default.
    user_identity, item_identity
        Add one identity feature per user / item seen in training (LightFM's "hybrid" setup).
    normalize
        Also scale each row to sum to 1 (LightFM ``Dataset``'s habit). Off by default: every
        source column already weighs 1 in total (a multi-valued column splits its 1 among its
        values), and full row normalisation divides each feature's gradient by the number of
        features, which on shop data made the model learn little beyond popularity.
    n_bins
        Number of quantile bins of a numeric column (columns with at most ``n_bins`` distinct
        values get one feature per value instead).
    date_bins_days
        Increasing edges in days of the recency bins of a date column.
    max_categories
        Keep at most this many most frequent values of a categorical or tags column.
    min_count
        A category, tag or keyword needs at least this many training rows to become a feature.
    max_keywords
        Size of the keyword vocabulary of a free-text column.
    """

    use_side_features: bool = True
    include_sensitive: bool = False
    user_identity: bool = True
    item_identity: bool = True
    normalize: bool = False
    n_bins: int = 5
    date_bins_days: tuple[int, ...] = (30, 90, 180, 365, 730)
    max_categories: int = 1000
    min_count: int = 1
    max_keywords: int = 200

    def validate(self) -> None:
        for name in ("n_bins", "max_categories", "min_count", "max_keywords"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"FeatureConfig.{name} must be a positive integer, got {value!r}")
        edges = list(self.date_bins_days)
        if not edges or any(b <= a for a, b in zip(edges, edges[1:])) or edges[0] <= 0:
            raise ValueError(
                f"FeatureConfig.date_bins_days must be positive and increasing, got {edges!r}"
            )

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["date_bins_days"] = list(self.date_bins_days)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "FeatureConfig":
        d = _known_fields(cls, data)
        if "date_bins_days" in d:
            d["date_bins_days"] = tuple(int(x) for x in d["date_bins_days"])
        return cls(**d)


def _known_fields(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    names = set(cls.__dataclass_fields__)  # type: ignore[attr-defined]
    unknown = set(data) - names
    if unknown:
        raise ValueError(f"unknown {cls.__name__} fields: {sorted(unknown)}")
    return dict(data)


# --------------------------------------------------------------------------------------------
# Id index and interactions
# --------------------------------------------------------------------------------------------


class IdIndex:
    """Maps external ids (strings) to integer positions 0..n-1 and back, vectorised.

    >>> idx = IdIndex.from_values(pd.Series(["b", "a", "b"]))
    >>> list(idx.ids), idx.positions(["a", "zz"]).tolist()
    (['a', 'b'], [0, -1])
    """

    def __init__(self, ids: Iterable[Any]) -> None:
        arr = np.asarray(pd.Index(ids).astype(str), dtype=object)
        self._index = pd.Index(arr, dtype=object)
        if not self._index.is_unique:
            dup = self._index[self._index.duplicated()][:5].tolist()
            raise ValueError(f"IdIndex ids must be unique; duplicated: {dup}")
        self.ids = arr

    @classmethod
    def _from_unique(cls, index: pd.Index) -> "IdIndex":
        """Wrap an index already known to be unique strings (no copy, no re-check)."""
        obj = cls.__new__(cls)
        obj._index, obj.ids = index, np.asarray(index, dtype=object)
        return obj

    @classmethod
    def from_values(cls, values: Iterable[Any]) -> "IdIndex":
        """Sorted unique ids of a column (one hash pass: pandas factorize, as Categorical does)."""
        _, uniques = pd.factorize(_series(values), sort=True)
        return cls(pd.Index(uniques).astype(str).unique())

    def __len__(self) -> int:
        return len(self.ids)

    def positions(self, values: Iterable[Any]) -> np.ndarray:
        """Integer position of each value, -1 where the id is unknown (or missing).

        Factorizes the values once, then looks up only the distinct ones in the index.
        """
        codes, uniques = _factorize(_series(values))
        if len(uniques) == 0:
            return np.full(len(codes), -1, dtype=np.int64)
        mapped = self._index.get_indexer(pd.Index(pd.Index(uniques).astype(str), dtype=object))
        return np.where(codes >= 0, mapped[np.maximum(codes, 0)], -1).astype(np.int64)

    def extend(self, values: Iterable[Any]) -> "IdIndex":
        """A new index: these ids followed by the values not yet present (in sorted order)."""
        extra = IdIndex.from_values(values).ids
        extra = extra[self._index.get_indexer(pd.Index(extra, dtype=object)) < 0]
        return IdIndex(np.concatenate([self.ids, extra]))

    def to_array(self) -> np.ndarray:
        """The ids as a fixed-width unicode array (storable with ``allow_pickle=False``)."""
        return np.asarray(self.ids, dtype=str) if len(self.ids) else np.zeros(0, dtype="<U1")


def _series(values: Iterable[Any]) -> pd.Series:
    if isinstance(values, pd.Series):
        return values
    if isinstance(values, (np.ndarray, pd.Index, pd.api.extensions.ExtensionArray)):
        return pd.Series(values)
    return pd.Series(list(values), dtype=object)


def _factorize(values: pd.Series, sort: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(codes, uniques) like ``pd.factorize``; Arrow-backed strings (pandas 3's default str
    dtype) go straight to Arrow's dictionary encoding, about twice as fast."""
    if isinstance(values.dtype, pd.StringDtype) and hasattr(values.array, "__arrow_array__"):
        import pyarrow as pa
        import pyarrow.compute as pc

        arr = values.array.__arrow_array__()
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        enc = pc.dictionary_encode(arr)
        codes = enc.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
        uniques = np.asarray(enc.dictionary.to_numpy(zero_copy_only=False), dtype=object)
        if sort and len(uniques):
            order = np.argsort(uniques, kind="stable")
            rank = np.empty(len(order), dtype=np.int64)
            rank[order] = np.arange(len(order))
            codes = np.where(codes >= 0, rank[np.maximum(codes, 0)], -1)
            uniques = uniques[order]
        return codes, uniques
    codes, uniques = pd.factorize(values, sort=sort)
    return np.asarray(codes, dtype=np.int64), np.asarray(uniques, dtype=object)


def _index_and_positions(values: pd.Series, index: IdIndex | None) -> tuple[IdIndex, np.ndarray]:
    """The given index (or the sorted unique values) and each value's position, in one pass."""
    if index is not None:
        return index, index.positions(values)
    codes, uniques = _factorize(values, sort=True)
    if codes.min(initial=0) < 0:
        raise ValueError(f"column {values.name!r} has missing ids in rows {np.flatnonzero(codes < 0)[:5].tolist()}")
    return IdIndex(pd.Index(uniques).astype(str)), codes.astype(np.int64)


def interaction_weights(
    interactions: pd.DataFrame,
    config: InteractionConfig | None = None,
    reference_time: pd.Timestamp | None = None,
) -> pd.Series:
    """Weight of every interaction row.

    ``w = base * 0.5 ** (age_days / half_life_days)``, where ``base`` is the event type's weight
    (or, with ``use_weight_column``, the row's ``weight`` when present), the decay applies only
    with a half-life, ``age_days = (reference_time - timestamp)`` in days (``reference_time``
    defaults to the latest timestamp; rows without a timestamp are not decayed) and a missing
    ``event`` counts as ``"interaction"``.
    """
    config = config or InteractionConfig()
    config.validate()
    n = len(interactions)
    if C.EVENT in interactions.columns:
        events = interactions[C.EVENT].astype("category")
        lut = config.weights()
        cats = pd.Series(events.cat.categories.astype(str), dtype=object).str.strip().str.lower()
        cat_w = cats.map(lut).fillna(config.unknown_event_weight).to_numpy(np.float64)
        codes = events.cat.codes.to_numpy()
        missing_w = lut.get(C.INTERACTION, config.unknown_event_weight)
        w = np.where(codes >= 0, cat_w[np.maximum(codes, 0)] if len(cat_w) else 0.0, missing_w)
    else:
        w = np.full(n, config.weights().get(C.INTERACTION, config.unknown_event_weight))
    w = np.asarray(w, dtype=np.float64)
    if config.use_weight_column and C.WEIGHT in interactions.columns:
        own = pd.to_numeric(interactions[C.WEIGHT], errors="coerce").to_numpy(np.float64)
        bad = ~np.isfinite(own) & ~np.isnan(own)
        if bad.any():
            raise ValueError(f"column {C.WEIGHT!r} has infinite values in rows {np.flatnonzero(bad)[:5].tolist()}")
        w = np.where(np.isnan(own), w, own)
    if config.half_life_days is not None and C.TIMESTAMP in interactions.columns:
        ts = pd.to_datetime(interactions[C.TIMESTAMP]).to_numpy("datetime64[ns]")
        ref = _reference_time(ts, reference_time)
        if ref is not None:
            age = (np.datetime64(ref, "ns") - ts) / _DAY
            decay = np.where(np.isnan(age), 1.0, 0.5 ** (np.maximum(age, 0.0) / config.half_life_days))
            w = w * decay
    return pd.Series(w, index=interactions.index, name=C.WEIGHT)


def _reference_time(ts: np.ndarray, reference_time: Any) -> pd.Timestamp | None:
    if reference_time is not None:
        return pd.Timestamp(reference_time).tz_localize(None) if pd.Timestamp(reference_time).tzinfo else pd.Timestamp(reference_time)
    if len(ts) == 0 or np.isnat(ts).all():
        return None
    return pd.Timestamp(np.nanmax(ts[~np.isnat(ts)]))


def latest_timestamp(interactions: pd.DataFrame) -> pd.Timestamp | None:
    """The latest timestamp of the interactions, or None when there is none."""
    if C.TIMESTAMP not in interactions.columns or interactions.empty:
        return None
    ts = pd.to_datetime(interactions[C.TIMESTAMP])
    return None if ts.isna().all() else pd.Timestamp(ts.max())


@dataclass
class InteractionMatrix:
    """Aggregated user x item weights plus the id indices of its rows and columns.

    ``matrix[u, i] = sum of the weights of all rows of (u, i)``; explicit entries are kept for every
    observed pair (a pair whose weights sum to 0 or less is observed but not a positive).
    """

    matrix: sp.csr_matrix
    user_index: IdIndex
    item_index: IdIndex

    def positives(self) -> sp.csr_matrix:
        """Binary matrix of the pairs with a total weight > 0."""
        m = self.matrix.copy()
        m.data = (m.data > 0).astype(np.float32)
        m.eliminate_zeros()
        return m


def build_interactions(
    interactions: pd.DataFrame,
    config: InteractionConfig | None = None,
    user_index: IdIndex | None = None,
    item_index: IdIndex | None = None,
    reference_time: pd.Timestamp | None = None,
) -> InteractionMatrix:
    """Weighted, de-duplicated user x item matrix (duplicates are summed).

    Ids come from ``user_index`` / ``item_index`` when given (rows with other ids are dropped),
    otherwise from the sorted unique ids of the data (pandas Categorical codes).
    """
    for col in (C.USER_ID, C.ITEM_ID):
        if col not in interactions.columns:
            raise ValueError(f"interactions need a {col!r} column; found {list(interactions.columns)}")
    w = interaction_weights(interactions, config, reference_time).to_numpy()
    user_index, rows = _index_and_positions(interactions[C.USER_ID], user_index)
    item_index, cols = _index_and_positions(interactions[C.ITEM_ID], item_index)
    keep = (rows >= 0) & (cols >= 0)
    if not keep.all():
        rows, cols, w = rows[keep], cols[keep], w[keep]
    shape = (len(user_index), len(item_index))
    # Sum duplicates explicitly (scipy's COO -> CSR sums them in C); every observed pair stays an
    # explicit entry, even one whose weights sum to 0.
    mat = sp.coo_matrix((w, (rows, cols)), shape=shape).tocsr()
    mat.sum_duplicates()
    return InteractionMatrix(mat, user_index, item_index)


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

_Triplets = tuple[np.ndarray, np.ndarray, np.ndarray]


def _fmt(x: float) -> str:
    if not math.isfinite(x):
        return str(x)
    if x == int(x) and abs(x) < 1e15:
        return f"{int(x):,}"
    return f"{x:,.3g}" if abs(x) >= 1 else f"{x:.3g}"


class _Encoder:
    kind: str = ""

    def __init__(self, column: str) -> None:
        self.column = column

    def fit(self, values: pd.Series, cfg: FeatureConfig) -> "_Encoder":
        raise NotImplementedError

    def transform(self, values: pd.Series) -> _Triplets:
        raise NotImplementedError

    def index(self) -> FeatureIndex:
        labels = np.asarray(self.labels(), dtype=object)
        names = np.asarray([self.name(lbl) for lbl in labels], dtype=object)  # loop over features, not rows
        n = len(labels)
        return FeatureIndex(names, np.full(n, self.column, dtype=object), labels, np.full(n, self.kind, dtype=object))

    def labels(self) -> list[str]:
        raise NotImplementedError

    def name(self, label: str) -> str:
        return f"{self.column} = {label}"

    def state(self) -> dict[str, Any]:
        raise NotImplementedError

    def load_state(self, state: dict[str, Any]) -> "_Encoder":
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
    codes, uniques = _factorize(values)
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


class _CategoricalEncoder(_Encoder):
    kind = ColumnKind.CATEGORICAL.value

    def fit(self, values: pd.Series, cfg: FeatureConfig) -> "_CategoricalEncoder":
        self.categories = _frequent(values, cfg)
        return self

    def transform(self, values: pd.Series) -> _Triplets:
        codes = _codes(values, self.categories)
        rows = np.flatnonzero(codes >= 0)
        return rows, codes[rows], np.ones(len(rows))

    def labels(self) -> list[str]:
        return list(self.categories)

    def state(self) -> dict[str, Any]:
        return {"categories": self.categories}

    def load_state(self, state: dict[str, Any]) -> "_CategoricalEncoder":
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


class _NumericEncoder(_Encoder):
    """Quantile bins learned on training rows; values outside the range go to the end bins."""

    kind = ColumnKind.NUMERIC.value

    def fit(self, values: pd.Series, cfg: FeatureConfig) -> "_NumericEncoder":
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

    def transform(self, values: pd.Series) -> _Triplets:
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

    def load_state(self, state: dict[str, Any]) -> "_NumericEncoder":
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


class _TagsEncoder(_Encoder):
    kind = ColumnKind.TAGS.value

    def fit(self, values: pd.Series, cfg: FeatureConfig) -> "_TagsEncoder":
        _, tags = _explode_tags(values)
        # a tag counts once per row for min_count
        self.tags = _frequent(tags, cfg)
        return self

    def transform(self, values: pd.Series) -> _Triplets:
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

    def load_state(self, state: dict[str, Any]) -> "_TagsEncoder":
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


class _BooleanEncoder(_Encoder):
    kind = ColumnKind.BOOLEAN.value

    def fit(self, values: pd.Series, cfg: FeatureConfig) -> "_BooleanEncoder":
        return self

    def transform(self, values: pd.Series) -> _Triplets:
        flags = _as_bool(values)
        rows = np.flatnonzero(flags)
        return rows, np.zeros(len(rows), np.int64), np.ones(len(rows))

    def labels(self) -> list[str]:
        return ["yes"]

    def state(self) -> dict[str, Any]:
        return {}

    def load_state(self, state: dict[str, Any]) -> "_BooleanEncoder":
        return self


def _as_bool(values: pd.Series) -> np.ndarray:
    if pd.api.types.is_bool_dtype(values):
        return values.fillna(False).to_numpy(bool)
    if pd.api.types.is_numeric_dtype(values):
        return (values.fillna(0).to_numpy(np.float64) != 0)
    text = values.astype(object).where(values.notna(), "").astype(str).str.strip().str.lower()
    return text.isin(_TRUE_STRINGS).to_numpy(bool)


class _DateEncoder(_Encoder):
    """Recency bins relative to a reference time (the end of the training data)."""

    kind = ColumnKind.DATE.value

    def __init__(self, column: str, reference_time: pd.Timestamp | None) -> None:
        super().__init__(column)
        self.reference_time = reference_time

    def fit(self, values: pd.Series, cfg: FeatureConfig) -> "_DateEncoder":
        self.bins = [int(b) for b in cfg.date_bins_days]
        if self.reference_time is None:
            dates = _dates(values)
            self.reference_time = None if dates.isna().all() else pd.Timestamp(dates.max())
        return self

    def transform(self, values: pd.Series) -> _Triplets:
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

    def load_state(self, state: dict[str, Any]) -> "_DateEncoder":
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


class _TextEncoder(_Encoder):
    """Keywords of a free-text column (scikit-learn CountVectorizer, vocabulary from training rows)."""

    kind = ColumnKind.TEXT.value

    def fit(self, values: pd.Series, cfg: FeatureConfig) -> "_TextEncoder":
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
            lowercase=True, stop_words="english", token_pattern=r"(?u)\b[^\W\d_]{3,}\b",
            max_features=max_features, min_df=min_df, binary=True, vocabulary=vocabulary,
            dtype=np.float64,
        )

    def transform(self, values: pd.Series) -> _Triplets:
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

    def load_state(self, state: dict[str, Any]) -> "_TextEncoder":
        self.vocabulary = list(state["vocabulary"])
        return self

    def grow(self, values: pd.Series, cfg: FeatureConfig) -> list[str]:
        fresh = _TextEncoder(self.column).fit(values, cfg)
        new = _unseen(fresh.vocabulary, self.vocabulary, cfg.max_keywords)
        self.vocabulary += new
        return new


def _make_encoder(column: str, kind: ColumnKind, reference_time: pd.Timestamp | None) -> _Encoder | None:
    if kind == ColumnKind.CATEGORICAL:
        return _CategoricalEncoder(column)
    if kind == ColumnKind.NUMERIC:
        return _NumericEncoder(column)
    if kind == ColumnKind.TAGS:
        return _TagsEncoder(column)
    if kind == ColumnKind.BOOLEAN:
        return _BooleanEncoder(column)
    if kind == ColumnKind.DATE:
        return _DateEncoder(column, reference_time)
    if kind == ColumnKind.TEXT:
        return _TextEncoder(column)
    return None


# --------------------------------------------------------------------------------------------
# Feature builder
# --------------------------------------------------------------------------------------------


class FeatureBuilder:
    """Turns a users or items table into a LightFM feature matrix.

    Parameters
    ----------
    schema
        Typed feature columns of the table (``None``: no side features).
    key
        The id column (``columns.USER_ID`` or ``columns.ITEM_ID``).
    config
        :class:`FeatureConfig`.
    reference_time
        "Now" for the recency bins of date columns (the pipeline passes the end of training);
        defaults to the latest date of each column in the training rows.

    Notes
    -----
    Columns of the matrix: one identity feature per id of ``warm_ids`` (when identity features
    are on), then every side feature. ``fit`` learns encoders on the table rows whose id is in
    ``warm_ids`` only (the training entities), so held-out rows never shape categories, bin edges
    or vocabularies. Feature weights: 1 for the identity feature and for a single-valued column's
    feature; a multi-valued column (tags, text) with ``m`` values in a row gives each ``1 / m``.
    With ``normalize``, every row is then scaled to sum to 1: ``x_ij <- x_ij / sum_j x_ij``.
    """

    def __init__(
        self,
        schema: TableSchema | None,
        key: str,
        config: FeatureConfig | None = None,
        reference_time: pd.Timestamp | None = None,
    ) -> None:
        self.schema = schema
        self.key = key
        self.config = config
        self.reference_time = reference_time

    # -- fit / transform ---------------------------------------------------------------------

    @property
    def identity_source(self) -> str:
        return USER_IDENTITY_SOURCE if self.key == C.USER_ID else ITEM_IDENTITY_SOURCE

    def _identity_on(self, cfg: FeatureConfig) -> bool:
        return cfg.user_identity if self.key == C.USER_ID else cfg.item_identity

    def fit(self, table: pd.DataFrame | None, warm_ids: IdIndex) -> "FeatureBuilder":
        """Learn the encoders from the rows of ``table`` whose id is in ``warm_ids``."""
        cfg = self.config or FeatureConfig()
        cfg.validate()
        self.config_ = cfg
        self.identity_index_ = warm_ids if self._identity_on(cfg) else IdIndex([])
        self.encoders_: list[_Encoder] = []
        columns = self._feature_columns(table, cfg)
        if columns:
            assert table is not None
            rows = self._check_table(table)
            train_rows = table.iloc[np.flatnonzero(warm_ids.positions(rows) >= 0)]
            ref = None if self.reference_time is None else pd.Timestamp(self.reference_time)
            kinds = self.schema.kinds() if self.schema else {}
            for col in columns:  # a loop over columns, not rows
                enc = _make_encoder(col, kinds[col], ref)
                if enc is not None:
                    self.encoders_.append(enc.fit(train_rows[col], cfg))
        self._finish_fit()
        return self

    def _finish_fit(self) -> None:
        self.sizes_ = [len(e.labels()) for e in self.encoders_]
        parts = [self._identity_feature_index()] + [e.index() for e in self.encoders_]
        self.feature_index_ = FeatureIndex.concat(parts)
        self.n_features_ = len(self.feature_index_)

    def grow(self, table: pd.DataFrame | None, new_identity_ids: Iterable[Any]) -> np.ndarray:
        """Add features for new ids and new column values; return where the old features went.

        ``new_identity_ids`` get identity features (when identity features are on), appended after
        the known ones; new values found in ``table`` (e.g. the rows of new or updated customers)
        are appended to the end of their column's block. Nothing known moves within its block and
        nothing is removed, so an old feature matrix maps onto the new columns by the returned
        array: ``old_to_new[j]`` is the new column of old column ``j``.
        """
        self._check_fitted()
        cfg = self.config_
        old_n_id, old_sizes = len(self.identity_index_), list(self.sizes_)
        if self._identity_on(cfg):
            self.identity_index_ = self.identity_index_.extend(pd.Series(list(new_identity_ids), dtype=object).astype(str))
        if table is not None and len(table):
            for enc in self.encoders_:  # a loop over columns, not rows
                if enc.column in table.columns:
                    enc.grow(table[enc.column], cfg)
        self._finish_fit()
        old_to_new = [np.arange(old_n_id)]
        old_off, new_off = old_n_id, len(self.identity_index_)
        for old_size, new_size in zip(old_sizes, self.sizes_):
            old_to_new.append(new_off + np.arange(old_size))
            old_off, new_off = old_off + old_size, new_off + new_size
        return np.concatenate(old_to_new).astype(np.int64)

    def _identity_feature_index(self) -> FeatureIndex:
        ids = self.identity_index_.ids
        n = len(ids)
        src = self.identity_source
        names = (src + " (" + pd.Series(ids, dtype=object).astype(str) + ")").to_numpy(object) if n else np.zeros(0, object)
        return FeatureIndex(names, np.full(n, src, dtype=object), ids.astype(object), np.full(n, IDENTITY_KIND, dtype=object))

    def _feature_columns(self, table: pd.DataFrame | None, cfg: FeatureConfig) -> list[str]:
        if not cfg.use_side_features or self.schema is None or table is None:
            return []
        cols = self.schema.feature_columns(include_sensitive=cfg.include_sensitive)
        missing = [c for c in cols if c not in table.columns]
        if missing:
            raise ValueError(
                f"the {self.key.split('_')[0]}s table has no column {missing[0]!r} although the schema "
                f"lists it; found {list(table.columns)}"
            )
        return [c for c in cols if c != self.key]

    def _check_table(self, table: pd.DataFrame) -> pd.Index:
        """The table's ids as a unique index (its hash table is built once and reused)."""
        if self.key not in table.columns:
            raise ValueError(f"the table needs a {self.key!r} column; found {list(table.columns)}")
        ids = pd.Index(table[self.key]).astype(str)
        if not ids.is_unique:
            dup = ids[ids.duplicated()][:3].tolist()
            raise ValueError(f"column {self.key!r} has duplicated ids, e.g. {dup}: keep one row per id")
        return ids

    def transform(self, table: pd.DataFrame | None, ids: Iterable[Any]) -> sp.csr_matrix:
        """Feature matrix with one row per id of ``ids`` (in that order).

        Ids without a table row get only their identity feature (if any); ids not seen in
        training get no identity feature, so they are described by their features alone.
        """
        self._check_fitted()
        ids = pd.Series(list(ids) if not isinstance(ids, (pd.Series, np.ndarray, pd.Index)) else ids, dtype=object).astype(str)
        n = len(ids)
        blocks_r, blocks_c, blocks_d = [], [], []
        offset = 0
        n_id = len(self.identity_index_)
        if n_id:
            pos = self.identity_index_.positions(ids)
            r = np.flatnonzero(pos >= 0)
            blocks_r.append(r)
            blocks_c.append(pos[r])
            blocks_d.append(np.ones(len(r)))
        offset += n_id
        if self.encoders_ and table is not None:
            row_of = IdIndex._from_unique(self._check_table(table)).positions(ids)
            have = np.flatnonzero(row_of >= 0)
            sub = table.iloc[row_of[have]].reset_index(drop=True)
            for enc, size in zip(self.encoders_, self.sizes_):
                if enc.column not in sub.columns:  # rows given at scoring time may lack a column
                    offset += size
                    continue
                r, c, d = enc.transform(sub[enc.column])
                blocks_r.append(have[r])
                blocks_c.append(c + offset)
                blocks_d.append(d)
                offset += size
        else:
            offset += sum(self.sizes_)
        rows = np.concatenate(blocks_r) if blocks_r else np.zeros(0, np.int64)
        cols = np.concatenate(blocks_c) if blocks_c else np.zeros(0, np.int64)
        data = np.concatenate(blocks_d) if blocks_d else np.zeros(0)
        mat = sp.csr_matrix((data.astype(np.float32), (rows, cols)), shape=(n, self.n_features_), dtype=np.float32)
        mat.sum_duplicates()
        if self.config_.normalize:
            mat = _normalize_rows(mat)
        return mat

    def side_features(self, matrix: sp.csr_matrix) -> sp.csr_matrix:
        """The columns of ``matrix`` that are not identity features."""
        return matrix[:, len(self.identity_index_):]

    def _check_fitted(self) -> None:
        if not hasattr(self, "feature_index_"):
            raise ValueError("FeatureBuilder is not fitted: call fit(table, warm_ids) first")

    # -- persistence (JSON state, no pickle) -----------------------------------------------------

    def state(self) -> dict[str, Any]:
        """JSON-friendly fitted state (the identity ids are stored separately as an array)."""
        self._check_fitted()
        return {
            "key": self.key,
            "config": self.config_.to_dict(),
            "encoders": [
                {"column": e.column, "kind": e.kind, "state": e.state()} for e in self.encoders_
            ],
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], identity_ids: np.ndarray, schema: TableSchema | None = None) -> "FeatureBuilder":
        cfg = FeatureConfig.from_dict(state["config"])
        fb = cls(schema, str(state["key"]), cfg)
        fb.config_ = cfg
        fb.identity_index_ = IdIndex(identity_ids)
        fb.encoders_ = []
        for e in state["encoders"]:
            enc = _make_encoder(str(e["column"]), ColumnKind(e["kind"]), None)
            if enc is None:
                raise ValueError(f"unknown encoder kind {e['kind']!r} in the model file")
            fb.encoders_.append(enc.load_state(e["state"]))
        fb._finish_fit()
        return fb


def _normalize_rows(mat: sp.csr_matrix) -> sp.csr_matrix:
    sums = np.asarray(mat.sum(axis=1)).ravel()
    scale = np.divide(1.0, sums, out=np.zeros_like(sums), where=sums > 0)
    return sp.csr_matrix(sp.diags(scale.astype(np.float32)) @ mat, dtype=np.float32)
