"""One table's facts (customers or offers) as a dense feature matrix for the response model.

One-hot categoricals (at most ``MAX_CATEGORIES`` frequent values), standardised numbers, and dates as
standardised log days before the scoring date; sensitive columns are never used. The encoder's state
is plain JSON (ordered lists, so the column order of the model's coefficients survives a save).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from recsys.data.schema import ColumnKind, TableSchema, infer_schema

#: Offer columns that bound when an offer is live (inclusive dates); they are not offer facts.
OFFER_START = "start_date"
OFFER_END = "end_date"
MAX_CATEGORIES = 30  # one-hot at most this many values of a fact column (the rest share zero)
_DAY = np.timedelta64(1, "D")


@dataclass
class FactEncoder:
    """One table's facts as a dense matrix: one-hot categoricals, standardised numbers and dates."""

    prefix: str
    key: str
    categorical: dict[str, list[str]]
    numeric: dict[str, tuple[float, float]]
    dates: dict[str, tuple[float, float]]

    @classmethod
    def fit(cls, table: pd.DataFrame | None, schema: TableSchema | None, key: str, prefix: str,
            as_of: np.datetime64) -> "FactEncoder":
        enc = cls(prefix, key, {}, {}, {})
        if table is None or not len(table):
            return enc
        schema = schema or infer_schema(table, key)
        kinds = schema.kinds()
        for col in schema.feature_columns(include_sensitive=False):
            if col not in table.columns or col in (OFFER_START, OFFER_END):
                continue
            kind = kinds[col]
            if kind in (ColumnKind.CATEGORICAL, ColumnKind.BOOLEAN):
                counts = table[col].astype(str).value_counts()
                counts = counts[counts >= max(5, 0.005 * len(table))]
                enc.categorical[col] = counts.index[:MAX_CATEGORIES].tolist()
            elif kind == ColumnKind.NUMERIC:
                x = pd.to_numeric(table[col], errors="coerce").to_numpy(float)
                enc.numeric[col] = (float(np.nanmean(x)), float(np.nanstd(x)) or 1.0)
            elif kind == ColumnKind.DATE:
                x = enc._days(table[col], as_of)
                enc.dates[col] = (float(np.nanmean(x)), float(np.nanstd(x)) or 1.0)
        return enc

    @staticmethod
    def _days(values: pd.Series, as_of: np.datetime64) -> np.ndarray:
        t = pd.to_datetime(values, errors="coerce").to_numpy("datetime64[ns]")
        return np.log1p(np.clip((as_of - t) / _DAY, 0, 3650))

    def names(self) -> list[tuple[str, str]]:
        """(feature name, contributor group) of every column of :meth:`transform`."""
        out = [(f"{self.prefix}{c} = {v}", f"{self.prefix}{c}") for c, vals in self.categorical.items() for v in vals]
        out += [(f"{self.prefix}{c}", f"{self.prefix}{c}") for c in self.numeric]
        out += [(f"{self.prefix}{c} (log days ago)", f"{self.prefix}{c}") for c in self.dates]
        return out

    def transform(self, table: pd.DataFrame | None, ids: np.ndarray, as_of: np.datetime64) -> np.ndarray:
        n_cols = len(self.names())
        if table is None or not len(table) or n_cols == 0:
            return np.zeros((len(ids), n_cols))
        t = table.drop_duplicates(self.key)
        t = t.set_index(t[self.key].astype(str)).reindex(pd.Index(np.asarray(ids, dtype=object).astype(str)))
        parts = []
        for col, vals in self.categorical.items():
            parts.append((t[col].astype(str).to_numpy(object)[:, None] == np.asarray(vals, dtype=object)[None, :]).astype(float))
        for col, (mu, sd) in self.numeric.items():
            x = (pd.to_numeric(t[col], errors="coerce").to_numpy(float) - mu) / sd
            parts.append(np.nan_to_num(x, nan=0.0)[:, None])
        for col, (mu, sd) in self.dates.items():
            parts.append(np.nan_to_num((self._days(t[col], as_of) - mu) / sd, nan=0.0)[:, None])
        return np.hstack(parts)

    def state(self) -> dict[str, Any]:
        """JSON-ready state. Columns are kept as ordered lists of ``[column, ...]`` entries: the
        order of the columns is the order of the model's coefficients (a JSON object's keys may be
        re-sorted on writing)."""
        return {"prefix": self.prefix, "key": self.key,
                "categorical": [[k, list(v)] for k, v in self.categorical.items()],
                "numeric": [[k, *v] for k, v in self.numeric.items()],
                "dates": [[k, *v] for k, v in self.dates.items()]}

    @classmethod
    def from_state(cls, s: dict[str, Any]) -> "FactEncoder":
        return cls(s["prefix"], s["key"], {e[0]: list(e[1]) for e in s["categorical"]},
                   {e[0]: (float(e[1]), float(e[2])) for e in s["numeric"]},
                   {e[0]: (float(e[1]), float(e[2])) for e in s["dates"]})
