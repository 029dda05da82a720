"""Customer groups: per-group means with bootstrap intervals, gaps and ratios, and the four-fifths rule.

* :func:`group_table`: the mean of per-customer metrics (accuracy, list metrics) per customer
  group, with stratified bootstrap intervals (:func:`bootstrap_group_means`);
* :func:`group_gaps`: the best and the worst group per metric, their gap and ratio;
* :func:`offer_rates`: how often each group is offered *favourable* offers (e.g.
  ``discount_depth >= 30``) in recommendation lists or a targeting list, the mean value offered,
  the disparate-impact ratio against the most-offered group and the four-fifths rule.

Group labels come from :func:`recsys.insight.rules.group_labels`; a customer absent from it forms
the group ``(not in customer table)``.

>>> per_user = pd.Series({"a": 1.0, "b": 0.0, "c": 1.0}, name="hit")
>>> table = group_table(per_user, pd.Series({"a": "x", "b": "x", "c": "y"}), n_boot=0)
>>> table[["group", "customers", "mean"]].to_dict("records")
[{'group': 'x', 'customers': 2, 'mean': 0.5}, {'group': 'y', 'customers': 1, 'mean': 1.0}]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pandas as pd

from recsys.core import columns as C
from recsys.core.arrays import text_codes
from recsys.metrics.base import GROUP_COLUMN, check_frame, label_users, top_k

#: The four-fifths rule: a group offered less than this share of the best group's rate is flagged.
FOUR_FIFTHS = 0.8


def bootstrap_group_means(
    values: np.ndarray, codes: np.ndarray, n_groups: int, n_boot: int = 200, seed: int = 0,
) -> np.ndarray:
    """Group means of ``values`` over ``n_boot`` stratified bootstrap resamples.

    Each draw resamples, with replacement, as many customers as each group has from that group
    (group sizes stay fixed), so a group of one always gives its one value. Vectorised over
    customers and over blocks of draws (no loop over customers).

    Returns
    -------
    np.ndarray
        ``(n_boot, n_groups)``; ``nan`` for empty groups.
    """
    values = np.asarray(values, dtype=np.float64)
    return bootstrap_group_means_columns(values[:, None], codes, n_groups, n_boot, seed)[0]


def bootstrap_group_means_columns(
    values: np.ndarray, codes: np.ndarray, n_groups: int, n_boot: int = 200, seed: int = 0,
) -> np.ndarray:
    """:func:`bootstrap_group_means` of every column of ``values`` (``(customers, m)``) on the same draws.

    The resampled customers depend only on ``codes``, ``n_boot`` and ``seed``, so several metrics of
    the same customers share one set of draws: ``out[j]`` equals
    ``bootstrap_group_means(values[:, j], codes, n_groups, n_boot, seed)`` bit for bit.

    Returns
    -------
    np.ndarray
        ``(m, n_boot, n_groups)``; ``nan`` for empty groups.
    """
    values = np.asarray(values, dtype=np.float64)
    values = values[:, None] if values.ndim == 1 else values
    codes = np.asarray(codes, dtype=np.int64)
    order = np.argsort(codes, kind="stable")
    v, c = values[order], codes[order]
    sizes = np.bincount(c, minlength=n_groups)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    rng = np.random.default_rng(seed)
    out = np.full((v.shape[1], n_boot, n_groups), np.nan)
    if len(v) == 0:
        return out
    block = max(1, (1 << 22) // len(v))
    denom = np.where(sizes > 0, sizes, np.nan)
    columns = [np.ascontiguousarray(v[:, j]) for j in range(v.shape[1])]
    for b0 in range(0, n_boot, block):  # blocks of draws, each fully vectorised
        nb = min(block, n_boot - b0)
        draw = (starts[c] + np.floor(rng.random((nb, len(v))) * sizes[c]).astype(np.int64)).ravel()
        flat = (np.arange(nb)[:, None] * n_groups + c[None, :]).ravel()
        for j, column in enumerate(columns):  # a handful of metrics
            sums = np.bincount(flat, weights=column[draw], minlength=nb * n_groups).reshape(nb, n_groups)
            out[j, b0:b0 + nb] = sums / denom
    return out


def _shared_bootstrap(
    values: dict[str, np.ndarray], codes: np.ndarray, n_groups: int, n_boot: int, seed: int,
) -> dict[str, np.ndarray]:
    """``bootstrap_group_means(v[ok], codes[ok], ...)`` of each metric (``ok``: its finite values), with
    one set of draws per distinct ``ok`` (usually one for all metrics)."""
    by_mask: dict[bytes, list[str]] = {}
    masks = {name: np.isfinite(v) for name, v in values.items()}
    for name, ok in masks.items():
        by_mask.setdefault(np.packbits(ok).tobytes() + len(ok).to_bytes(8, "little"), []).append(name)
    out: dict[str, np.ndarray] = {}
    for group in by_mask.values():
        ok = masks[group[0]]
        stacked = np.column_stack([values[name][ok] for name in group])
        for name, boot in zip(group, bootstrap_group_means_columns(stacked, codes[ok], n_groups, n_boot, seed)):
            out[name] = boot
    return out


def _codes(labels: pd.Series, levels: Iterable[str] | None) -> tuple[np.ndarray, pd.Index]:
    observed = pd.Index(sorted(pd.unique(labels.to_numpy(object)), key=str), dtype=object)
    groups = observed if levels is None else pd.Index(list(dict.fromkeys([*map(str, levels), *observed])), dtype=object)
    return groups.get_indexer(labels.to_numpy(object)).astype(np.int64), groups


def group_table(
    per_user: pd.DataFrame | pd.Series,
    groups: pd.Series,
    metrics: Iterable[str] | None = None,
    *,
    levels: Iterable[str] | None = None,
    n_boot: int = 200,
    confidence: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Mean of per-user metrics by customer group, with stratified bootstrap intervals.

    Parameters
    ----------
    per_user
        One row per user (index ``user_id`` or a ``user_id`` column), one column per metric (a
        Series is one metric).
    groups
        ``user_id`` -> group label (e.g. :func:`group_labels`); users missing from it form the
        group ``(not in customer table)``.
    metrics
        Columns to summarise (default: all numeric columns).
    levels
        Groups to report even when empty (e.g. every category of the column).
    n_boot, confidence, seed
        Bootstrap draws, interval level and seed (percentile intervals of
        :func:`bootstrap_group_means`).

    Returns
    -------
    pd.DataFrame
        ``metric``, ``group``, ``customers``, ``mean``, ``ci_low``, ``ci_high``: per metric, the
        users with a value (``nan`` metric values are left out). Empty groups have
        ``customers = 0`` and ``nan`` statistics.
    """
    index, names, values = _metric_values(per_user, metrics, check=True)
    codes, group_index = _codes(label_users(index, groups), levels)
    boots = _shared_bootstrap(values, codes, len(group_index), n_boot, seed)
    return _table(names, values, codes, group_index, boots, n_boot=n_boot, confidence=confidence, seed=seed)


def _metric_values(per_user: pd.DataFrame | pd.Series, metrics: Iterable[str] | None, *,
                   check: bool) -> tuple[pd.Index, list[str], dict[str, np.ndarray]]:
    """The users, the metrics' names and each metric's values (float, ``nan`` when missing)."""
    frame = per_user.to_frame() if isinstance(per_user, pd.Series) else per_user
    if C.USER_ID in frame.columns:
        frame = frame.set_index(C.USER_ID)
    names = list(metrics) if metrics is not None else [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
    missing = [m for m in names if m not in frame.columns]
    if check and missing:
        raise ValueError(f"per-user metrics have no column(s) {missing}; found {list(frame.columns)}")
    return frame.index, names, {name: pd.to_numeric(frame[name], errors="coerce").to_numpy(np.float64) for name in names}


def _table(names: list[str], values: dict[str, np.ndarray], codes: np.ndarray, group_index: pd.Index, boots: dict[str, np.ndarray], *,
           n_boot: int, confidence: float, seed: int) -> pd.DataFrame:
    tail = (1 - confidence) / 2
    rows = []
    for name in names:  # a handful of metrics
        v = values[name]
        ok = np.isfinite(v)
        n = np.bincount(codes[ok], minlength=len(group_index))
        sums = np.bincount(codes[ok], weights=v[ok], minlength=len(group_index))
        means = np.divide(sums, n, out=np.full(len(n), np.nan), where=n > 0)
        boot = boots[name]
        low, high = _col_quantile(boot, tail, n), _col_quantile(boot, 1 - tail, n)
        rows.append(pd.DataFrame({"metric": name, GROUP_COLUMN: group_index.to_numpy(object), "customers": n,
                                  "mean": means, "ci_low": low, "ci_high": high}))
    out = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=["metric", GROUP_COLUMN, "customers", "mean", "ci_low", "ci_high"])
    out.attrs["bootstrap"] = {"n_boot": n_boot, "confidence": confidence, "seed": seed}
    return out


def group_gaps(
    per_user: pd.DataFrame | pd.Series,
    groups: pd.Series,
    metrics: Iterable[str] | None = None,
    *,
    min_size: int = 1,
    n_boot: int = 200,
    confidence: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Best and worst customer group per metric, their gap and ratio, with bootstrap intervals.

    Among groups with at least ``min_size`` users with a value: ``best = argmax_g mean_g``,
    ``worst = argmin_g mean_g``, ``gap = mean_best - mean_worst``, ``ratio = mean_worst / mean_best``
    (``nan`` when ``mean_best`` is 0). The intervals are percentiles of the same two statistics
    of the fixed best and worst groups over stratified bootstrap draws. A metric with fewer than
    two such groups has ``nan`` gap and ratio.

    Returns
    -------
    pd.DataFrame
        ``metric``, ``best``, ``worst``, ``best_mean``, ``worst_mean``, ``gap``, ``gap_low``,
        ``gap_high``, ``ratio``, ``ratio_low``, ``ratio_high``, ``groups`` (groups judged).
    """
    index, names, values = _metric_values(per_user, metrics, check=False)
    codes, group_index = _codes(label_users(index, groups), None)
    return _gaps(names, values, codes, group_index, lambda: _shared_bootstrap(values, codes, len(group_index), n_boot, seed),
                 min_size=min_size, confidence=confidence)


def group_table_and_gaps(
    per_user: pd.DataFrame | pd.Series,
    groups: pd.Series,
    metrics: Iterable[str] | None = None,
    *,
    min_size: int = 1,
    n_boot: int = 200,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(group_table(...), group_gaps(...))`` of the same metrics, on one set of bootstrap draws.

    Both draw the same customers (same groups, same seed), so the draws are made once; the two
    tables are exactly those of the two functions.
    """
    index, names, values = _metric_values(per_user, metrics, check=True)
    codes, group_index = _codes(label_users(index, groups), None)
    boots = _shared_bootstrap(values, codes, len(group_index), n_boot, seed)
    return (_table(names, values, codes, group_index, boots, n_boot=n_boot, confidence=confidence, seed=seed),
            _gaps(names, values, codes, group_index, lambda: boots, min_size=min_size, confidence=confidence))


def _gaps(names: list[str], values: dict[str, np.ndarray], codes: np.ndarray, group_index: pd.Index,
          draw: Callable[[], dict[str, np.ndarray]], *, min_size: int, confidence: float) -> pd.DataFrame:
    """The rows of :func:`group_gaps`; ``draw()``: the bootstrap means of every metric (called only when needed)."""
    tail = (1 - confidence) / 2
    rows = []
    boots: dict[str, np.ndarray] | None = None
    for name in names:
        v = values[name]
        ok = np.isfinite(v)
        n = np.bincount(codes[ok], minlength=len(group_index))
        means = np.divide(np.bincount(codes[ok], weights=v[ok], minlength=len(group_index)), n,
                          out=np.full(len(n), np.nan), where=n > 0)
        judged = np.flatnonzero((n >= max(min_size, 1)))
        row: dict[str, Any] = {"metric": name, "groups": int(len(judged))}
        if len(judged) < 2:
            rows.append({**row, "best": None, "worst": None, "best_mean": np.nan, "worst_mean": np.nan,
                         "gap": np.nan, "gap_low": np.nan, "gap_high": np.nan,
                         "ratio": np.nan, "ratio_low": np.nan, "ratio_high": np.nan})
            continue
        best = judged[np.argmax(means[judged])]
        worst = judged[np.argmin(means[judged])]
        if boots is None:  # only when some metric has two groups to compare
            boots = draw()
        boot = boots[name]
        gaps = boot[:, best] - boot[:, worst]
        with np.errstate(divide="ignore", invalid="ignore"):
            ratios = boot[:, worst] / boot[:, best]
            ratio = means[worst] / means[best] if means[best] != 0 else np.nan
        rows.append({
            **row, "best": group_index[best], "worst": group_index[worst],
            "best_mean": means[best], "worst_mean": means[worst], "gap": means[best] - means[worst],
            "gap_low": _quantile(gaps, tail), "gap_high": _quantile(gaps, 1 - tail),
            "ratio": ratio, "ratio_low": _quantile(ratios, tail), "ratio_high": _quantile(ratios, 1 - tail),
        })
    columns = ["metric", "best", "worst", "best_mean", "worst_mean", "gap", "gap_low", "gap_high",
               "ratio", "ratio_low", "ratio_high", "groups"]
    return pd.DataFrame(rows, columns=columns)


def _quantile(x: np.ndarray, q: float) -> float:
    x = x[np.isfinite(x)]
    return float(np.quantile(x, q)) if len(x) else np.nan


def offer_rates(
    reco: pd.DataFrame,
    groups: pd.Series,
    favourable: Iterable[Any],
    *,
    k: int | None = None,
    item_values: pd.Series | None = None,
    population: Iterable[Any] | None = None,
    levels: Iterable[str] | None = None,
    threshold: float = FOUR_FIFTHS,
    min_size: int = 1,
    n_boot: int = 200,
    confidence: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """How often each customer group is offered favourable offers: the four-fifths rule.

    Works for recommendation lists (``k`` = how many offers per customer to judge) and for a
    targeting list (one row per coupon; ``population`` = every customer who could have been
    targeted, so the untargeted count as offered nothing).

    Per customer ``u`` of the population: ``m_u`` offers in their (top-k) list, ``f_u`` of them
    favourable, ``fav_u = f_u / m_u`` (0 when ``m_u = 0``). Per group ``g`` of ``n_g`` customers:

    * ``offered = |{u in g: m_u > 0}| / n_g`` (the selection rate of a targeting list);
    * ``rate = mean_{u in g} fav_u`` (with one coupon per customer: the share of the group given a
      favourable coupon);
    * ``mean_value = sum_{u in g} sum_{i in list_u} v_i / sum_{u in g} |{i in list_u: v_i known}|``,
      the mean ``item_values`` (e.g. discount depth) over the group's offers;
    * ``ratio = rate_g / max_h rate_h`` over the judged groups (``n_h >= min_size``): the
      disparate-impact ratio; ``vs_rest = rate_g / rate_(population \\ g)``;
    * ``flagged = judged and ratio < threshold`` (the four-fifths rule);
    * ``ratio_low``/``ratio_high``: stratified bootstrap interval of ``rate_g / rate_best``.

    Returns
    -------
    pd.DataFrame
        One row per group (``group``, ``customers``, ``offered``, ``offers``, ``favourable``,
        ``rate``, ``rate_low``, ``rate_high``, ``mean_value``, ``ratio``, ``ratio_low``,
        ``ratio_high``, ``vs_rest``, ``judged``, ``flagged``), sorted by ``ratio``; ``attrs["best"]``
        names the most-offered group. Empty groups (from ``levels``) have ``nan`` rates.
    """
    top = top_k(reco, k) if k is not None else check_frame(reco, "reco", (C.USER_ID, C.ITEM_ID))
    pop, u, item_codes, item_ids = _rows_by_customer(top, population)
    inside = u >= 0
    u, item_codes = u[inside], item_codes[inside]
    fav = (pd.Index(_as_text(favourable), dtype=object).get_indexer(item_ids) >= 0)[item_codes]
    m = np.bincount(u, minlength=len(pop))
    f = np.bincount(u, weights=fav, minlength=len(pop))
    share = np.divide(f, m, out=np.zeros(len(pop)), where=m > 0)
    codes, group_index = _codes(label_users(pop, groups), levels)
    G = len(group_index)
    n = np.bincount(codes, minlength=G)
    rate = np.divide(np.bincount(codes, weights=share, minlength=G), n, out=np.full(G, np.nan), where=n > 0)
    offered = np.divide(np.bincount(codes, weights=m > 0, minlength=G), n, out=np.full(G, np.nan), where=n > 0)
    value = np.full(G, np.nan)
    if item_values is not None:
        lookup = pd.Series(pd.to_numeric(item_values, errors="coerce").to_numpy(np.float64),
                           index=pd.Index(item_values.index.astype(str), dtype=object))
        v = lookup[~lookup.index.duplicated()].reindex(item_ids).to_numpy(np.float64)[item_codes]
        ok = np.isfinite(v)
        cnt = np.bincount(codes[u[ok]], minlength=G)
        value = np.divide(np.bincount(codes[u[ok]], weights=v[ok], minlength=G), cnt, out=np.full(G, np.nan), where=cnt > 0)
    judged = n >= max(min_size, 1)
    best_rate = np.nanmax(np.where(judged, rate, np.nan)) if judged.any() else np.nan
    best = int(np.flatnonzero(judged & (rate == best_rate))[0]) if judged.any() and np.isfinite(best_rate) else -1
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(n > 0, rate / best_rate, np.nan) if best_rate and np.isfinite(best_rate) and best_rate > 0 else np.where(n > 0, 1.0, np.nan)
        total_f, total_n = share.sum(), len(pop)
        rest = (total_f - np.bincount(codes, weights=share, minlength=G)) / (total_n - n)
        vs_rest = np.where(n > 0, rate / rest, np.nan)
    tail = (1 - confidence) / 2
    boot = bootstrap_group_means(share, codes, G, n_boot, seed)
    with np.errstate(divide="ignore", invalid="ignore"):
        boot_ratio = boot / boot[:, [best]] if best >= 0 else np.full_like(boot, np.nan)
    table = pd.DataFrame({
        GROUP_COLUMN: group_index.to_numpy(object), "customers": n, "offered": offered,
        "offers": np.bincount(codes, weights=m, minlength=G).astype(np.int64),
        "favourable": np.bincount(codes, weights=f, minlength=G).astype(np.int64),
        "rate": rate, "rate_low": _col_quantile(boot, tail, n), "rate_high": _col_quantile(boot, 1 - tail, n),
        "mean_value": value, "ratio": ratio,
        "ratio_low": _col_quantile(boot_ratio, tail, n), "ratio_high": _col_quantile(boot_ratio, 1 - tail, n),
        "vs_rest": vs_rest, "judged": judged, "flagged": judged & (ratio < threshold),
    })
    table = table.sort_values(["ratio", GROUP_COLUMN], kind="stable", na_position="last").reset_index(drop=True)
    table.attrs.update({"best": group_index[best] if best >= 0 else None, "threshold": threshold, "k": k})
    return table


def _rows_by_customer(top: pd.DataFrame, population: Iterable[Any] | None) -> tuple[pd.Index, np.ndarray, np.ndarray, np.ndarray]:
    """The population (``population`` as text, else the listed customers in order of first appearance),
    each row's position in it (-1: outside), and each row's offer as a code into distinct offer ids.

    Rows are read as integer codes of their distinct ids (one Arrow pass per column), so only the
    distinct ids are looked up as text; with a missing id the rows are read as text, one by one, as
    before, so a missing id is matched exactly as it was.
    """
    users, items = text_codes(top[C.USER_ID]), text_codes(top[C.ITEM_ID])
    if users is None or items is None:
        r_users = top[C.USER_ID].astype(str).to_numpy(object)
        r_items = top[C.ITEM_ID].astype(str).to_numpy(object)
        pop = pd.Index(pd.unique(r_users) if population is None else _as_text(population), dtype=object)
        return pop, pop.get_indexer(r_users), np.arange(len(r_items)), r_items
    (user_codes, user_ids), (item_codes, item_ids) = users, items
    if population is None:  # the distinct listed customers in order of first appearance, as pd.unique gives them
        return pd.Index(user_ids, dtype=object), user_codes, item_codes, item_ids
    pop = pd.Index(_as_text(population), dtype=object)
    return pop, pop.get_indexer(user_ids)[user_codes], item_codes, item_ids


def _as_text(ids: Iterable[Any]) -> np.ndarray:
    return pd.unique(pd.Series(list(ids), dtype=object).astype(str))


def _col_quantile(boot: np.ndarray, q: float, n: np.ndarray) -> np.ndarray:
    out = np.full(boot.shape[1], np.nan)
    for g in np.flatnonzero(n > 0):  # one per group (a handful)
        out[g] = _quantile(boot[:, g], q)
    return out


__all__ = ["FOUR_FIFTHS", "bootstrap_group_means", "bootstrap_group_means_columns", "group_table", "group_gaps", "group_table_and_gaps",
           "offer_rates"]
