"""Which offers and which customers: small JSON-able rules, and the group label of every id.

* :class:`ItemRule`: a group of offers on one offers column (the favourable offers, the offers to
  boost or cap): a set of values of a text column, or a range of a number column;
  :func:`default_favourable` is ``discount_depth >= 30`` when the offers table has it.
* :class:`UserRule`: a group of customers, those whose column value is in a set.
* :func:`group_labels` / :func:`item_group_labels`: the text group label per customer or offer id
  (a missing value is ``(missing)``), and :func:`customers_phrase` words a customer group.

>>> items = pd.DataFrame({"item_id": ["a", "b"], "discount_depth": [10.0, 40.0]})
>>> ItemRule.parse("discount_depth>=30").item_ids(items).tolist()
['b']
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from recsys.core import columns as C
from recsys.core.i18n import current_language
from recsys.core.i18n import gettext as _
from recsys.metrics.base import MISSING, check_frame

#: Default favourable offers: the deep discounts.
DEFAULT_FAVOURABLE_COLUMN = "discount_depth"
DEFAULT_FAVOURABLE_MIN = 30.0


@dataclass(frozen=True)
class ItemRule:
    """A group of offers defined on one items column (favourable offers, offers to boost or cap).

    Text columns: the offers whose value is in ``values``. Number columns: the offers with
    ``min_value <= value <= max_value`` (either bound may be left out).

    >>> items = pd.DataFrame({"item_id": ["a", "b"], "discount_depth": [10.0, 40.0]})
    >>> ItemRule("discount_depth", min_value=30).item_ids(items).tolist()
    ['b']
    """

    column: str
    values: tuple[str, ...] = ()
    min_value: float | None = None
    max_value: float | None = None

    def __post_init__(self) -> None:
        values = (self.values,) if isinstance(self.values, str) else self.values
        object.__setattr__(self, "values", tuple(str(v) for v in values))

    @property
    def numeric(self) -> bool:
        return self.min_value is not None or self.max_value is not None

    def validate(self, items: pd.DataFrame | None = None) -> None:
        if not self.column:
            raise ValueError("an offer rule needs a column")
        if self.numeric and self.values:
            raise ValueError(f"offer rule on '{self.column}': give either values or a min/max range, not both")
        if not self.numeric and not self.values:
            raise ValueError(f"offer rule on '{self.column}': give the values (or a min/max range) that define the group")
        if items is not None and self.column not in items.columns:
            raise ValueError(
                f"the offers table has no column '{self.column}'. Fix: choose one of "
                f"{', '.join(c for c in items.columns if c != C.ITEM_ID) or 'none'}."
            )
        if items is not None and self.numeric and not pd.api.types.is_numeric_dtype(items[self.column]):
            raise ValueError(f"offers column '{self.column}' is not a number column: define the group by its values instead")

    def mask(self, items: pd.DataFrame) -> np.ndarray:
        """Boolean mask over the rows of ``items``."""
        self.validate(items)
        column = items[self.column]
        if self.numeric:
            values = pd.to_numeric(column, errors="coerce").to_numpy(np.float64)
            ok = np.isfinite(values)
            if self.min_value is not None:
                ok &= values >= float(self.min_value)
            if self.max_value is not None:
                ok &= values <= float(self.max_value)
            return ok
        return column.astype("string").isin(self.values).fillna(False).to_numpy(bool)

    def item_ids(self, items: pd.DataFrame) -> np.ndarray:
        """Ids (as text) of the offers in the group."""
        return items.loc[self.mask(items), C.ITEM_ID].astype(str).to_numpy(object)

    def label(self, items: pd.DataFrame | None = None) -> str:
        """Plain words: ``discount_depth 30-60`` (the range actually found) or ``category home, toys``."""
        if not self.numeric:
            return f"{column_words(self.column)} {', '.join(self.values)}"
        if items is not None and self.column in items.columns:
            found = pd.to_numeric(items.loc[self.mask(items), self.column], errors="coerce").dropna()
            if len(found):
                low, high = float(found.min()), float(found.max())
                return f"{column_words(self.column)} {_num(low)}" + (f"-{_num(high)}" if high > low else "")
        low = "" if self.min_value is None else f">= {_num(float(self.min_value))}"
        high = "" if self.max_value is None else f"<= {_num(float(self.max_value))}"
        return f"{column_words(self.column)} {_(' and ').join(p for p in (low, high) if p)}"

    def phrase(self, items: pd.DataFrame | None = None) -> str:
        """The offers in a sentence: ``30-80% discounts`` for a discount column, else ``offers with ...``."""
        words = self.column.lower().replace("-", "_").split("_")
        if self.numeric and items is not None and ("discount" in words or "percent" in words) and self.column in items.columns:
            found = pd.to_numeric(items.loc[self.mask(items), self.column], errors="coerce").dropna()
            if len(found):
                low, high = float(found.min()), float(found.max())
                return _("{range}% discounts").format(range=f"{_num(low)}" + (f"-{_num(high)}" if high > low else ""))
        return _("offers with {label}").format(label=self.label(items))

    def to_dict(self) -> dict[str, Any]:
        return {"column": self.column, "values": list(self.values), "min_value": self.min_value, "max_value": self.max_value}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ItemRule":
        return cls(str(data["column"]), tuple(data.get("values") or ()), data.get("min_value"), data.get("max_value"))

    @classmethod
    def parse(cls, text: str) -> "ItemRule":
        """``"discount_depth>=30"``, ``"discount_depth<=10"``, ``"category=home,toys"``."""
        for op in (">=", "<=", "="):
            if op in text:
                column, value = (part.strip() for part in text.split(op, 1))
                if not column or not value:
                    break
                if op == "=":
                    return cls(column, tuple(v.strip() for v in value.split(",") if v.strip()))
                try:
                    number = float(value)
                except ValueError:
                    raise ValueError(f"offer rule {text!r}: {value!r} is not a number") from None
                return cls(column, min_value=number) if op == ">=" else cls(column, max_value=number)
        raise ValueError(f"offer rule {text!r}: write COLUMN>=NUMBER, COLUMN<=NUMBER or COLUMN=VALUE[,VALUE...]")


@dataclass(frozen=True)
class UserRule:
    """A group of customers: those whose ``column`` value is in ``values``."""

    column: str
    values: tuple[str, ...]

    def __post_init__(self) -> None:
        values = (self.values,) if isinstance(self.values, str) else self.values
        object.__setattr__(self, "values", tuple(str(v) for v in values))

    def validate(self, users: pd.DataFrame | None = None) -> None:
        if not self.column or not self.values:
            raise ValueError("a customer rule needs a column and at least one value")
        if users is not None and self.column not in users.columns:
            raise ValueError(
                f"the customers table has no column '{self.column}'. Fix: choose one of "
                f"{', '.join(c for c in users.columns if c != C.USER_ID) or 'none'}."
            )

    def user_ids(self, users: pd.DataFrame) -> np.ndarray:
        self.validate(users)
        labels = group_labels(users, self.column)
        return labels.index[labels.isin(self.values).to_numpy()].to_numpy(object)

    def label(self) -> str:
        return customers_phrase(self.column, ", ".join(self.values))

    def to_dict(self) -> dict[str, Any]:
        return {"column": self.column, "values": list(self.values)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "UserRule":
        return cls(str(data["column"]), tuple(data.get("values") or ()))


def default_favourable(items: pd.DataFrame | None) -> ItemRule | None:
    """``discount_depth >= 30`` when the offers table has a numeric ``discount_depth``, else None."""
    if items is not None and DEFAULT_FAVOURABLE_COLUMN in items.columns and pd.api.types.is_numeric_dtype(items[DEFAULT_FAVOURABLE_COLUMN]):
        return ItemRule(DEFAULT_FAVOURABLE_COLUMN, min_value=DEFAULT_FAVOURABLE_MIN)
    return None


def group_labels(table: pd.DataFrame, column: str, key: str = C.USER_ID) -> pd.Series:
    """Text group label per id (index: the ids as text); missing values are ``(missing)``.

    Numeric columns with more than 12 distinct values are cut into quintiles (``[a, b]`` labels).
    """
    check_frame(table, "table", (key, column))
    values = table[column]
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values) and values.nunique() > 12:
        values = pd.qcut(values, 5, duplicates="drop").astype("string")
    labels = values.astype("string").fillna(MISSING).astype(object)
    out = pd.Series(labels.to_numpy(object), index=pd.Index(table[key].astype(str).to_numpy(object), name=key), name=column)
    return out[~out.index.duplicated()]


def item_group_labels(items: pd.DataFrame, column: str) -> pd.Series:
    """Text group label per offer id (index: the ids as text); missing values are ``(missing)``."""
    check_frame(items, "items", (C.ITEM_ID, column))
    labels = items[column].astype("string").fillna(MISSING).astype(object)
    out = pd.Series(labels.to_numpy(object), index=pd.Index(items[C.ITEM_ID].astype(str).to_numpy(object)), name=column)
    return out[~out.index.duplicated()]


def customers_phrase(column: str, value: str) -> str:
    """``customers aged 55+`` for an age column, else ``customers with region = north``."""
    words = column.lower().replace("-", "_").split("_")
    if "age" in words:
        return _("customers aged {value}").format(value=value)
    return _("customers with {column} = {value}").format(column=column_words(column), value=value)


def column_words(column: str) -> str:
    """A data column's name in a sentence: ``age_band`` as "age band" in English; in other languages
    the shop's own name, as it is written in the data."""
    return column.replace("_", " ") if current_language() == "en" else column


def _num(x: float) -> str:
    return f"{x:g}"


__all__ = [
    "DEFAULT_FAVOURABLE_COLUMN", "DEFAULT_FAVOURABLE_MIN", "ItemRule", "UserRule", "default_favourable",
    "group_labels", "item_group_labels", "customers_phrase", "column_words",
]
