"""``offer_rates`` reads its rows as integer codes of their distinct ids: exactly the table it gave
when every row was looked up as text (the definition before, kept here as the reference)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
import pytest

from recsys.core import columns as C
from recsys.insight import groups as groups_module
from recsys.insight.groups import FOUR_FIFTHS, bootstrap_group_means, offer_rates
from recsys.metrics.base import GROUP_COLUMN, check_frame, label_users, top_k


def offer_rates_reference(
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
    """The definition before rows were read as codes of their distinct ids."""
    top = top_k(reco, k) if k is not None else check_frame(reco, "reco", (C.USER_ID, C.ITEM_ID))
    r_users = top[C.USER_ID].astype(str).to_numpy(object)
    r_items = top[C.ITEM_ID].astype(str).to_numpy(object)
    pop = pd.Index(pd.unique(r_users) if population is None else pd.unique(pd.Series(list(population), dtype=object).astype(str)), dtype=object)
    u = pop.get_indexer(r_users)
    inside = u >= 0
    u, r_items = u[inside], r_items[inside]
    fav = pd.Index(pd.unique(pd.Series(list(favourable), dtype=object).astype(str)), dtype=object).get_indexer(r_items) >= 0
    m = np.bincount(u, minlength=len(pop))
    f = np.bincount(u, weights=fav, minlength=len(pop))
    share = np.divide(f, m, out=np.zeros(len(pop)), where=m > 0)
    codes, group_index = groups_module._codes(label_users(pop, groups), levels)
    G = len(group_index)
    n = np.bincount(codes, minlength=G)
    rate = np.divide(np.bincount(codes, weights=share, minlength=G), n, out=np.full(G, np.nan), where=n > 0)
    offered = np.divide(np.bincount(codes, weights=m > 0, minlength=G), n, out=np.full(G, np.nan), where=n > 0)
    value = np.full(G, np.nan)
    if item_values is not None:
        lookup = pd.Series(pd.to_numeric(item_values, errors="coerce").to_numpy(np.float64),
                           index=pd.Index(item_values.index.astype(str), dtype=object))
        v = lookup[~lookup.index.duplicated()].reindex(r_items).to_numpy(np.float64)
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
        "rate": rate, "rate_low": groups_module._col_quantile(boot, tail, n), "rate_high": groups_module._col_quantile(boot, 1 - tail, n),
        "mean_value": value, "ratio": ratio,
        "ratio_low": groups_module._col_quantile(boot_ratio, tail, n), "ratio_high": groups_module._col_quantile(boot_ratio, 1 - tail, n),
        "vs_rest": vs_rest, "judged": judged, "flagged": judged & (ratio < threshold),
    })
    table = table.sort_values(["ratio", GROUP_COLUMN], kind="stable", na_position="last").reset_index(drop=True)
    table.attrs.update({"best": group_index[best] if best >= 0 else None, "threshold": threshold, "k": k})
    return table



def lists(seed: int, missing: bool) -> tuple[pd.DataFrame, pd.Series, list[str], pd.Series, list[str]]:
    rng = np.random.default_rng(seed)
    users = [f"c{i}" for i in range(60)] + ["顾客", "10", "9"]
    items = [f"o{i}" for i in range(12)] + ["满减"]
    n = 500
    reco = pd.DataFrame({C.USER_ID: rng.choice(users, n), C.ITEM_ID: rng.choice(items, n),
                         C.RANK: rng.integers(1, 8, n)})
    if missing:
        reco.loc[rng.integers(0, n, 3), C.USER_ID] = None
        reco.loc[rng.integers(0, n, 3), C.ITEM_ID] = None
    groups = pd.Series(rng.choice(["young", "old", None], len(users)), index=users)[5:]  # c0..c4: not in table
    values = pd.Series(rng.choice([10.0, 30.0, np.nan, 50.0], len(items) - 1), index=items[1:])  # o0 has no value
    population = users[3:] + ["never listed"]
    return reco, groups, items[::3], values, population


@pytest.mark.parametrize("missing", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_offer_rates_equal_the_text_definition(seed: int, missing: bool) -> None:
    reco, groups, favourable, values, population = lists(seed, missing)
    for kwargs in ({"k": 3, "population": population, "item_values": values},  # the model's lists
                   {"item_values": values},  # past impressions: the listed customers are the population
                   {"k": 5, "levels": ["young", "old", "nobody"], "min_size": 5},
                   {"population": population[::2]}):
        got = offer_rates(reco, groups, favourable, n_boot=40, seed=seed, **kwargs)
        expected = offer_rates_reference(reco, groups, favourable, n_boot=40, seed=seed, **kwargs)
        assert got["customers"].sum() > 0 and got["favourable"].sum() > 0
        pd.testing.assert_frame_equal(got, expected, check_exact=True)
        assert got.attrs == expected.attrs
