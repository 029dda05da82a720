"""What defines a targeting list: the audience parameters and the customer filters.

:class:`AudienceSpec` holds every rule of a campaign list (offers, segments, customer filters,
history rules, budgets, the per-customer cap, the control group and the allocation method);
:class:`UserFilter` is one condition on a customers column, with the operators of
:data:`FILTER_OPS`. Both are frozen, validated and round-trip through JSON, so a list can be rebuilt
from the parameters saved in its export manifest.

>>> spec = AudienceSpec(offers=("x",), user_filters=({"column": "tier", "op": "in", "value": ["gold"]},))
>>> AudienceSpec.from_dict(spec.to_dict()) == spec
True
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from recsys.core import columns as C
from recsys.core.config import ConfigBase
from recsys.core.errors import PromoLensError
from recsys.core.jsonio import jsonable

#: Largest number of candidate pairs ``auto`` solves exactly by linear programming (HiGHS by column
#: generation, ~1 s at this size); above it ``auto`` keeps greedy by score and reports its proven bound.
EXACT_MAX_PAIRS = 100_000

Method = Literal["auto", "exact", "greedy", "fast"]
FilterOp = Literal["in", "not_in", "==", "!=", ">", ">=", "<", "<=", "between"]
FILTER_OPS: tuple[str, ...] = ("in", "not_in", "==", "!=", ">", ">=", "<", "<=", "between")


class TargetingError(PromoLensError, ValueError):
    """A targeting parameter or input column is wrong; the message names it and the fix."""


class CampaignError(PromoLensError, ValueError):
    """A campaign request that cannot be built; the message names the setting and the fix."""


@dataclass(frozen=True)
class UserFilter(ConfigBase):
    """Keep customers whose ``column`` satisfies ``op value`` (e.g. ``tier in [gold, silver]``).

    ``op`` is one of :data:`FILTER_OPS`; ``in``/``not_in`` take a list, ``between`` a pair
    ``[low, high]`` (both inclusive). Values are compared as numbers for numeric columns, as dates
    for date columns and as text otherwise. Customers missing from the users table, or with a
    missing value, are not kept (except by ``!=`` and ``not_in``).
    """

    column: str
    op: FilterOp
    value: Any

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the value's tuples become lists, numpy numbers Python numbers."""
        return jsonable(super().to_dict())

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "UserFilter":
        """The filter written by :meth:`to_dict`; the column name is read as text."""
        return cls(str(data["column"]), data["op"], data["value"])

    def mask(self, users: pd.DataFrame) -> np.ndarray:
        """Boolean mask over the rows of ``users``."""
        if self.op not in FILTER_OPS:
            raise TargetingError(f"User filter on '{self.column}': unknown operator {self.op!r}; use one of {', '.join(FILTER_OPS)}.")
        if self.column not in users.columns:
            raise TargetingError(
                f"User filter: the customers table has no column '{self.column}'{did_you_mean(self.column, users.columns)}. "
                f"Fix: choose one of {', '.join(map(str, users.columns[:20]))}."
            )
        column = users[self.column]
        if self.op in ("in", "not_in"):
            values = list(self.value) if isinstance(self.value, (list, tuple, set)) else [self.value]
            hit = column.astype(str).isin([str(v) for v in values]).to_numpy() & column.notna().to_numpy()
            return hit if self.op == "in" else ~hit
        if self.op == "between":
            if not isinstance(self.value, (list, tuple)) or len(self.value) != 2:
                raise TargetingError(f"User filter on '{self.column}': 'between' needs [low, high], got {self.value!r}.")
            low, high = (self._coerce(column, v) for v in self.value)
            values = self._comparable(column)
            return ((values >= low) & (values <= high)).fillna(False).to_numpy(bool)
        target = self._coerce(column, self.value)
        values = self._comparable(column)
        result = {
            "==": values == target, "!=": values != target, ">": values > target,
            ">=": values >= target, "<": values < target, "<=": values <= target,
        }[self.op]
        return result.fillna(self.op == "!=").to_numpy(bool)

    def _comparable(self, column: pd.Series) -> pd.Series:
        if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_datetime64_any_dtype(column):
            return column
        return column.astype(str).where(column.notna())

    def _coerce(self, column: pd.Series, value: Any) -> Any:
        try:
            if pd.api.types.is_bool_dtype(column):
                return str(value).strip().lower() in ("1", "true", "yes")
            if pd.api.types.is_numeric_dtype(column):
                return float(value)
            if pd.api.types.is_datetime64_any_dtype(column):
                return pd.Timestamp(value)
        except (TypeError, ValueError) as exc:
            raise TargetingError(
                f"User filter on '{self.column}': {value!r} cannot be compared with this "
                f"{column.dtype} column. Fix: give a {'number' if pd.api.types.is_numeric_dtype(column) else 'date'}."
            ) from exc
        return str(value)


@dataclass(frozen=True)
class AudienceSpec(ConfigBase):
    """Everything that defines a targeting list. JSON round-trip: :meth:`to_dict` / :meth:`from_dict`.

    Attributes
    ----------
    offers
        Offer (item) ids to target; empty = every offer in the scores.
    segments
        Saved segment ids; a customer is eligible when a member of *any* of them (empty = everyone).
        Pass their members to :func:`build_audience` (``segment_members``, see :func:`segment_members`).
    user_filters
        Filters on customer columns, all of which must hold.
    active_since
        Only customers with an interaction on or after this date (ISO text).
    exclude_contacted_days
        Drop customers who received a coupon (an event in ``contact_events``, or a treatment row
        of a recent export passed as ``recent_recipients``) in the last N days before ``as_of``.
    contact_events
        Event types that mean "received a coupon".
    exclude_redeemed
        Never give an offer to a customer who already redeemed it (an event in ``redeem_events``).
    redeem_events
        Event types that mean "redeemed".
    as_of
        Reference date for "the last N days" (ISO text); default: the latest interaction.
    top_n
        Most coupons per offer: one number for every offer, or ``{offer: n}``.
    offer_budget
        Money per offer (one number or ``{offer: amount}``), spent at ``cost_column`` per coupon.
    total_coupons
        Most coupons in the whole campaign.
    total_budget
        Most money in the whole campaign, at ``cost_column`` per coupon.
    cost_column
        Items column with the cost of one coupon of each offer (e.g. its discount value).
    min_score
        Only pairs whose model score is at least this.
    max_per_customer
        Most coupons any one customer gets across offers (the cap ``c``).
    holdout_share
        Share of targeted customers held out as a control group (0 = none, < 1).
    score_bins
        Score bins per offer used to stratify the holdout (10 = deciles).
    seed
        Seed of the holdout (and of the sample used by the ``fast`` allocation).
    method
        ``auto`` (greedy when it meets its proven bound, else exact LP up to ``exact_max_pairs`` candidate pairs,
        else greedy by score with its bound), ``exact``,
        ``greedy`` or ``fast``; see :func:`allocate`.
    exact_max_pairs
        Largest problem solved exactly by ``auto``.
    """

    offers: tuple[str, ...] = ()
    segments: tuple[str, ...] = ()
    user_filters: tuple[UserFilter, ...] = ()
    active_since: str | None = None
    exclude_contacted_days: int | None = None
    contact_events: tuple[str, ...] = C.CONTACT_EVENTS
    exclude_redeemed: bool = True
    redeem_events: tuple[str, ...] = C.REDEEM_EVENTS
    as_of: str | None = None
    top_n: int | dict[str, int] | None = None
    offer_budget: float | dict[str, float] | None = None
    total_coupons: int | None = None
    total_budget: float | None = None
    cost_column: str | None = None
    min_score: float | None = None
    max_per_customer: int = 1
    holdout_share: float = 0.1
    score_bins: int = 10
    seed: int = 0
    method: Method = "auto"
    exact_max_pairs: int = EXACT_MAX_PAIRS

    def __post_init__(self) -> None:
        for name in ("offers", "segments", "contact_events", "redeem_events"):
            value = getattr(self, name)
            if isinstance(value, str):
                value = (value,)
            object.__setattr__(self, name, tuple(str(v) for v in value))
        filters = tuple(f if isinstance(f, UserFilter) else UserFilter.from_dict(f) for f in self.user_filters)
        object.__setattr__(self, "user_filters", filters)

    def validate(self) -> None:
        """Raise :class:`TargetingError` naming the first bad parameter and its fix."""
        def bad(name: str, why: str, fix: str) -> TargetingError:
            return TargetingError(f"Audience parameter '{name}': {why}. Fix: {fix}")

        if not isinstance(self.max_per_customer, (int, np.integer)) or self.max_per_customer < 1:
            raise bad("max_per_customer", f"must be a whole number >= 1, got {self.max_per_customer!r}", "give at least 1 coupon per customer")
        if not 0.0 <= float(self.holdout_share) < 1.0:
            raise bad("holdout_share", f"must be in [0, 1), got {self.holdout_share!r}", "use e.g. 0.1 for a 10% control group")
        if self.score_bins < 1:
            raise bad("score_bins", f"must be >= 1, got {self.score_bins}", "use 10 for deciles")
        for name in ("top_n", "offer_budget"):
            value = getattr(self, name)
            values = value.values() if isinstance(value, Mapping) else ([] if value is None else [value])
            if any(v is None or float(v) < 0 for v in values):
                raise bad(name, "budgets must be >= 0", "give a number of coupons / an amount per offer")
        for name in ("total_coupons", "total_budget", "exclude_contacted_days"):
            value = getattr(self, name)
            if value is not None and float(value) < 0:
                raise bad(name, f"must be >= 0, got {value}", "give a positive number or leave it empty")
        if (self.offer_budget is not None or self.total_budget is not None) and not self.cost_column:
            raise bad(
                "cost_column", "a money budget needs the cost of one coupon of each offer",
                "name the offers column that holds it (e.g. cost_column='discount_value') or budget in coupons",
            )
        if self.method not in ("auto", "exact", "greedy", "fast"):
            raise bad("method", f"unknown method {self.method!r}", "use auto, exact, greedy or fast")
        for name in ("active_since", "as_of"):
            value = getattr(self, name)
            if value is not None:
                try:
                    pd.Timestamp(value)
                except (TypeError, ValueError) as exc:
                    raise bad(name, f"{value!r} is not a date", "write it as YYYY-MM-DD") from exc

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready parameters (filters as :meth:`UserFilter.to_dict`)."""
        data = super().to_dict()
        data["user_filters"] = [f.to_dict() for f in self.user_filters]
        return jsonable(data)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "AudienceSpec":
        """The spec written by :meth:`to_dict`; an unknown parameter is a :class:`TargetingError` naming the known ones."""
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(data) - known
        if unknown:
            raise TargetingError(f"Unknown audience parameter(s): {', '.join(sorted(unknown))}. Fix: use {', '.join(sorted(known))}.")
        return cls(**dict(data))


def did_you_mean(name: str, options: Iterable[Any]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``options`` to ``name``, or an empty text."""
    close = difflib.get_close_matches(str(name), [str(o) for o in options], n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


__all__ = ["AudienceSpec", "UserFilter", "TargetingError", "FILTER_OPS", "FilterOp", "Method", "EXACT_MAX_PAIRS", "did_you_mean"]
