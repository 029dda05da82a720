"""Leak-free train/test splits of interactions.

Four kinds, chosen with :class:`SplitConfig`:

* ``temporal`` (default): everything after a cutoff is test. The cutoff is a date, or the time
  below which ``1 - test_share`` of the timed rows fall. Rows without a timestamp stay in train.
* ``leave_last_n``: per user, everything after the user's (n+1)-th last positive event is test
  (users with at most ``n`` positive events stay wholly in train).
* ``random``: a random ``test_share`` of the user-item *pairs*; all rows of a pair go to the same side.
* ``cold_items``: a random ``test_share`` of the offers is held out entirely (all their rows are
  test), so the model must score them from their features alone.

Splits only move rows; they never look at features. Leakage is prevented downstream: encoders,
popularity and the model are fit on the train part only (see ``pipeline.py``).
:func:`validation_split` carves a validation part out of train with the same kind, for early stopping.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import pandas as pd

from recsys.core import columns as C
from recsys.core.codes import subset_rows
from recsys.core.config import ConfigBase
from recsys.core.errors import ConfigError

SplitKind = Literal["temporal", "leave_last_n", "random", "cold_items"]
SPLIT_KINDS: tuple[str, ...] = ("temporal", "leave_last_n", "random", "cold_items")


@dataclass(frozen=True)
class SplitConfig(ConfigBase):
    """Parameters of a split.

    Parameters
    ----------
    kind
        ``"temporal"``, ``"leave_last_n"``, ``"random"`` or ``"cold_items"``.
    test_share
        Temporal: share of the timed rows after the cutoff (the cutoff is their
        ``1 - test_share`` time quantile). Random: share of pairs. Cold items: share of items.
    cutoff
        Temporal only: an explicit cutoff date (ISO string); rows strictly after it are test.
        Overrides ``test_share``.
    n_last
        Leave-last-n: number of last positive events per user that go to test.
    validation_share
        Share carved out of train by :func:`validation_split` (same kind).
    seed
        Random seed of the random and cold-items splits.
    """

    kind: str = "temporal"
    test_share: float = 0.2
    cutoff: str | None = None
    n_last: int = 1
    validation_share: float = 0.1
    seed: int = 42

    def validate(self) -> None:
        if self.kind not in SPLIT_KINDS:
            raise ConfigError(f"split kind must be one of {SPLIT_KINDS}, got {self.kind!r}")
        for name in ("test_share", "validation_share"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and 0 < v < 1):
                raise ConfigError(f"SplitConfig.{name} must be between 0 and 1 (exclusive), got {v!r}")
        if not isinstance(self.n_last, (int, np.integer)) or self.n_last < 1:
            raise ConfigError(f"SplitConfig.n_last must be a positive integer, got {self.n_last!r}")
        if self.cutoff is not None:
            try:
                pd.Timestamp(self.cutoff)
            except (ValueError, TypeError) as exc:
                raise ConfigError(f"SplitConfig.cutoff is not a date: {self.cutoff!r}") from exc


@dataclass
class Split:
    """The two parts of a split plus a JSON-friendly summary.

    ``is_test`` flags the test rows of the split interactions (in their row order), so that a run
    can store its split and rebuild it exactly.
    """

    train: pd.DataFrame
    test: pd.DataFrame
    summary: dict[str, Any]
    is_test: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))


def split_interactions(
    interactions: pd.DataFrame,
    config: SplitConfig | None = None,
    positive: np.ndarray | pd.Series | None = None,
) -> Split:
    """Split interactions into train and test.

    Parameters
    ----------
    interactions
        Canonical interactions (``user_id``, ``item_id``, optional ``timestamp``, ...).
    config
        :class:`SplitConfig`; default: temporal, last 20% of the time-ordered rows are test.
    positive
        Boolean per row: is the event a positive (weight > 0)? Used by ``leave_last_n``; default
        all rows.

    Returns
    -------
    Split
        ``train`` and ``test`` keep the original columns and index.
    """
    config = config or SplitConfig()
    config.validate()
    for col in (C.USER_ID, C.ITEM_ID):
        if col not in interactions.columns:
            raise ValueError(f"interactions need a {col!r} column; found {list(interactions.columns)}")
    if interactions.empty:
        raise ValueError("there are no interactions to split")
    extra: dict[str, Any] = {}
    if config.kind == "temporal":
        is_test, extra = _temporal(interactions, config)
    elif config.kind == "leave_last_n":
        pos = np.ones(len(interactions), bool) if positive is None else np.asarray(positive, bool)
        if len(pos) != len(interactions):
            raise ValueError("`positive` must have one flag per interaction row")
        is_test = _leave_last_n(interactions, config.n_last, pos)
    elif config.kind == "random":
        is_test = _random_pairs(interactions, config.test_share, config.seed)
    else:
        is_test, extra = _cold_items(interactions, config.test_share, config.seed)
    train, test = subset_rows(interactions, ~is_test), subset_rows(interactions, is_test)
    if train.empty or test.empty:
        side = "train" if train.empty else "test"
        raise ValueError(
            f"the {config.kind} split left the {side} part empty ({len(interactions)} rows): "
            "change test_share / cutoff or choose another split kind"
        )
    return Split(train, test, {**_summary(train, test, config), **extra}, np.asarray(is_test, dtype=bool))


def validation_split(
    train: pd.DataFrame, config: SplitConfig, positive: np.ndarray | pd.Series | None = None
) -> Split:
    """Carve a validation part out of ``train`` with the same kind of split.

    The temporal kind takes the last ``validation_share`` of train's time (an explicit cutoff is
    ignored here); the others use ``validation_share`` as their share.
    """
    inner = replace(config, test_share=config.validation_share, cutoff=None, seed=config.seed + 1)
    return split_interactions(train, inner, positive)


# --------------------------------------------------------------------------------------------


def _timestamps(interactions: pd.DataFrame) -> pd.Series:
    if C.TIMESTAMP not in interactions.columns:
        return pd.Series(pd.NaT, index=interactions.index, dtype="datetime64[ns]")
    return pd.to_datetime(interactions[C.TIMESTAMP])


def _temporal(interactions: pd.DataFrame, config: SplitConfig) -> tuple[np.ndarray, dict[str, Any]]:
    ts = _timestamps(interactions)
    timed = ts.notna().to_numpy()
    if not timed.any():
        raise ValueError(
            f"the temporal split needs timestamps but column {C.TIMESTAMP!r} is empty or missing: "
            "choose the random, leave_last_n or cold_items split instead"
        )
    if config.cutoff is not None:
        cutoff = pd.Timestamp(config.cutoff)
        if ts.dt.tz is not None and cutoff.tzinfo is None:
            cutoff = cutoff.tz_localize(ts.dt.tz)
    else:
        values = ts[timed].sort_values().to_numpy()
        pos = int(np.floor((1 - config.test_share) * (len(values) - 1)))
        cutoff = pd.Timestamp(values[pos])
    is_test = (ts > cutoff).to_numpy() & timed
    return is_test, {"cutoff": cutoff.isoformat(), "rows_without_timestamp": int((~timed).sum())}


def _leave_last_n(interactions: pd.DataFrame, n: int, positive: np.ndarray) -> np.ndarray:
    ts = _timestamps(interactions).to_numpy("datetime64[ns]").astype(np.int64)  # NaT sorts first
    users = pd.factorize(interactions[C.USER_ID].astype(str))[0]
    order = np.lexsort((np.arange(len(interactions)), ts, users))  # user, time, original order
    u_sorted = users[order]
    pos_sorted = positive[order].astype(np.int64)
    # number of positive events at or after each row, within its user
    rev = pd.Series(pos_sorted[::-1]).groupby(u_sorted[::-1]).cumsum().to_numpy()[::-1]
    n_pos_user = np.bincount(users, weights=positive.astype(np.float64))
    test_sorted = (rev <= n) & (n_pos_user[u_sorted] > n)
    is_test = np.zeros(len(order), dtype=bool)
    is_test[order] = test_sorted
    return is_test


def _random_pairs(interactions: pd.DataFrame, share: float, seed: int) -> np.ndarray:
    pair = pd.factorize(
        interactions[C.USER_ID].astype(str) + "\x1f" + interactions[C.ITEM_ID].astype(str)
    )[0]
    rng = np.random.default_rng(seed)
    n_pairs = pair.max() + 1
    chosen = np.zeros(n_pairs, dtype=bool)
    chosen[rng.permutation(n_pairs)[: max(1, int(round(share * n_pairs)))]] = True
    return chosen[pair]


def _cold_items(interactions: pd.DataFrame, share: float, seed: int) -> tuple[np.ndarray, dict[str, Any]]:
    codes, items = pd.factorize(interactions[C.ITEM_ID].astype(str), sort=True)
    rng = np.random.default_rng(seed)
    n = len(items)
    held = np.zeros(n, dtype=bool)
    held[rng.permutation(n)[: max(1, int(round(share * n)))]] = True
    return held[codes], {"held_out_items": int(held.sum())}


def _summary(train: pd.DataFrame, test: pd.DataFrame, config: SplitConfig) -> dict[str, Any]:
    train_users = pd.Index(train[C.USER_ID].astype(str).unique())
    train_items = pd.Index(train[C.ITEM_ID].astype(str).unique())
    test_users = pd.Index(test[C.USER_ID].astype(str).unique())
    test_items = pd.Index(test[C.ITEM_ID].astype(str).unique())
    return {
        "kind": config.kind,
        "train_rows": int(len(train)),
        "test_rows": int(len(test)),
        "train_users": int(len(train_users)),
        "train_items": int(len(train_items)),
        "test_users": int(len(test_users)),
        "test_items": int(len(test_items)),
        "test_users_unseen_in_train": int((~test_users.isin(train_users)).sum()),
        "test_items_unseen_in_train": int((~test_items.isin(train_items)).sum()),
    }
