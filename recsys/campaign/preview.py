"""The audience preview's summaries: offer names, score histograms, group mix and the selection check.

Pure functions of frames (the scored pairs, the targeted list, the customers table), shown by the
Campaign page next to a list and printed by ``promolens export --check-fairness``. The
four-fifths rule flags a group targeted at under 80% of the most-targeted group's rate.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from recsys.campaign import export
from recsys.campaign.spec import CampaignError
from recsys.core import columns as C
from recsys.core.i18n import N_, current_language
from recsys.core.i18n import gettext as _
from recsys.insight.rerank import RerankSettings

if TYPE_CHECKING:  # pragma: no cover
    from recsys.workspace.campaign import Campaign

#: Four-fifths rule: a group targeted at under 80% of the most-targeted group's rate is flagged.
FOUR_FIFTHS = 0.8
#: Groups with fewer customers in the base are reported but not judged.
MIN_GROUP_SIZE = 30
MISSING = "(missing)"

# Columns of the summary frames (not data-contract columns, so they live here).
CUSTOMERS = "customers"
OFFER_NAME = "offer"
BIN_LOW, BIN_HIGH, SCORED, TARGETED = "bin_low", "bin_high", "scored", "targeted"
BASE, SHARE_OF_BASE, SHARE_TARGETED, RATE, RATIO, FLAG = (
    "base", "share_of_base", "share_of_targeted", "rate", "ratio", "flag",
)
VALUE, SHARE = "value", "share"


def offer_names(items: pd.DataFrame | None, offers: Iterable[Any]) -> dict[str, str]:
    """Readable name of each offer (the offers table's title/name column; the id where none)."""
    from recsys.insight.recommend import item_names

    ids = [str(o) for o in offers]
    return dict(zip(ids, (str(n) for n in item_names(items, ids))))


def offer_choices(
    items: pd.DataFrame | None, model: Any, *, start: str | None = None, end: str | None = None, day: Any = None,
) -> dict[str, str]:
    """Every offer a campaign can target -> "name (id) · 1 Mar-31 May 2026 · live" for pickers: the
    model's offers and the table's, live ones first, then upcoming, then ended (see :func:`offer_status`;
    no dates or status without the offers' date columns and a campaign ``day``)."""
    ids = pd.unique(np.concatenate([
        np.asarray(model.item_index_.ids, dtype=object),
        items[C.ITEM_ID].astype(str).to_numpy(object) if items is not None else np.zeros(0, object),
    ]))
    names = offer_names(items, ids)
    labels = pd.Series([names[i] if names[i] == i else f"{names[i]} ({i})" for i in ids], index=ids, dtype=object)
    table = offer_table(items, ids, start, end).set_index(C.ITEM_ID)
    first, last = table[export.OFFER_START], table[export.OFFER_END]
    dates = np.where((first != "") | (last != ""), " · " + first.str.replace("^$", "…", regex=True) + _(" to ")
                     + last.str.replace("^$", "…", regex=True), "")
    labels = labels + pd.Series(dates, index=table.index).reindex(labels.index).fillna("")
    status = offer_status(items, ids, start, end, day)
    words = status.map(lambda s: _(STATUS_WORDS[s]) if s in STATUS_WORDS else s)
    labels = labels + np.where(status != "", " · " + words, "")
    order = np.argsort(status.map(STATUS_ORDER).fillna(0).to_numpy(), kind="stable")
    return dict(zip(labels.index[order], labels.to_numpy()[order]))


LIVE, UPCOMING, ENDED = "live", "upcoming", "ended"
STATUS_ORDER = {LIVE: 0, "": 0, UPCOMING: 1, ENDED: 2}
#: An offer's status in a picker, in the current language.
STATUS_WORDS = {LIVE: N_("live"), UPCOMING: N_("upcoming"), ENDED: N_("ended")}


def offer_status(items: pd.DataFrame | None, offers: Iterable[Any], start: str | None, end: str | None,
                 day: Any) -> pd.Series:
    """Each offer's status on ``day``: "live", "upcoming" (starts later) or "ended"; "" when unknown
    (no date columns, no day, or an offer outside the table). Both ends of a window are inclusive."""
    ids = pd.Index([str(o) for o in offers])
    out = pd.Series("", index=ids, dtype=object)
    if items is None or day is None or (start is None and end is None):
        return out
    when = pd.Timestamp(day).normalize()
    table = items.assign(**{C.ITEM_ID: items[C.ITEM_ID].astype(str)}).drop_duplicates(C.ITEM_ID).set_index(C.ITEM_ID)
    known = ids.isin(table.index)
    status = pd.Series(LIVE, index=table.index, dtype=object)
    if start is not None and start in table.columns:
        status[(pd.to_datetime(table[start], errors="coerce").dt.normalize() > when).to_numpy()] = UPCOMING
    if end is not None and end in table.columns:
        status[(pd.to_datetime(table[end], errors="coerce").dt.normalize() < when).to_numpy()] = ENDED
    out[known] = status.reindex(ids[known]).to_numpy()
    return out


def offer_codes(ids: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """``pd.factorize(ids.astype(str), sort=False)`` without writing out a string per row when ``ids`` is
    categorical (the audience's scores are: 600,000 pairs for 150 offers on the sample shop)."""
    if not isinstance(ids.dtype, pd.CategoricalDtype):
        return pd.factorize(ids.astype(str), sort=False)
    raw = ids.cat.codes.to_numpy()
    used = pd.unique(raw[raw >= 0])  # in order of first appearance, as factorize numbers them
    names = ids.cat.categories[used].astype(str)
    if names.has_duplicates:  # two categories with the same text (e.g. 1 and "1"): factorize the text
        return pd.factorize(ids.astype(str), sort=False)
    remap = np.full(len(ids.cat.categories), -1, dtype=np.intp)
    remap[used] = np.arange(len(used))
    codes = np.where(raw >= 0, remap[np.maximum(raw, 0)], -1)
    return codes, pd.Index(names)


def score_histogram(scores: pd.DataFrame, targeted: pd.DataFrame, bins: int = 30) -> pd.DataFrame:
    """Pairs scored and pairs targeted per score bin of each offer (equal-width bins per offer)."""
    columns = [C.ITEM_ID, BIN_LOW, BIN_HIGH, SCORED, TARGETED]
    if scores.empty:
        return pd.DataFrame(columns=columns)
    codes, offers = offer_codes(scores[C.ITEM_ID])
    s = scores[C.SCORE].to_numpy(np.float64)
    n = len(offers)
    low = np.full(n, np.inf)
    high = np.full(n, -np.inf)
    np.minimum.at(low, codes, s)
    np.maximum.at(high, codes, s)
    width = np.where(high > low, (high - low) / bins, 1.0)

    def counts(item_codes: np.ndarray, values: np.ndarray) -> np.ndarray:
        ok = item_codes >= 0
        b = np.clip(((values[ok] - low[item_codes[ok]]) / width[item_codes[ok]]).astype(np.int64), 0, bins - 1)
        return np.bincount(item_codes[ok] * bins + b, minlength=n * bins)

    scored = counts(codes, s)
    target_codes = pd.Index(offers).get_indexer(targeted[C.ITEM_ID].astype(str))
    chosen = counts(target_codes, targeted[C.SCORE].to_numpy(np.float64))
    edges = np.arange(bins)
    frame = pd.DataFrame({
        C.ITEM_ID: np.repeat(np.asarray(offers, dtype=object), bins),
        BIN_LOW: (low[:, None] + edges[None, :] * width[:, None]).ravel(),
        BIN_HIGH: (low[:, None] + (edges[None, :] + 1) * width[:, None]).ravel(),
        SCORED: scored, TARGETED: chosen,
    })
    return frame[frame[SCORED] > 0].reset_index(drop=True)


def group_values(users: pd.DataFrame, column: str, ids: Iterable[Any]) -> pd.Series:
    """Each customer's value of one customer column (text; ``(missing)`` when absent), by id."""
    if column not in users.columns:
        raise CampaignError(f"The customers table has no column '{column}'. Fix: choose one of {', '.join(map(str, users.columns[1:]))}.")
    lookup = users.assign(**{C.USER_ID: users[C.USER_ID].astype(str)}).drop_duplicates(C.USER_ID).set_index(C.USER_ID)[column]
    index = pd.Index(pd.Index(ids).astype(str), name=C.USER_ID)
    values = lookup.reindex(index)
    return values.astype("string").fillna(MISSING).astype(str)


def group_mix(campaign: Campaign, users: pd.DataFrame, column: str) -> pd.DataFrame:
    """Targeted customers of each offer by one customer column: ``offer``, ``value``, ``customers``, ``share``."""
    frame = campaign.audience.frame
    values = group_values(users, column, frame[C.USER_ID]).to_numpy()
    table = (pd.DataFrame({OFFER_NAME: frame[C.ITEM_ID].astype(str).map(campaign.offer_names).to_numpy(), VALUE: values})
             .groupby([OFFER_NAME, VALUE], sort=True).size().rename(CUSTOMERS).reset_index())
    table[SHARE] = table[CUSTOMERS] / table.groupby(OFFER_NAME)[CUSTOMERS].transform("sum")
    return table


@dataclass(frozen=True)
class SelectionCheck:
    """Who is targeted per customer group, against the customer base, with the four-fifths rule.

    ``table`` has one row per group: ``value``, ``base`` (customers in the base), ``targeted``
    (customers in the list, control group included: they were chosen the same way), ``rate``
    (targeted / base), ``ratio`` (rate / the highest rate among groups large enough to judge),
    ``share_of_base``, ``share_of_targeted`` and ``flag`` (ratio below four-fifths).
    ``warnings`` name each flagged group in plain words; ``verdict`` says when no group is flagged;
    ``notes`` list what could not be judged.
    """

    column: str
    table: pd.DataFrame
    warnings: tuple[str, ...]
    verdict: str | None
    notes: tuple[str, ...]

    @property
    def flagged(self) -> bool:
        return bool(self.table[FLAG].any())

    @property
    def messages(self) -> tuple[str, ...]:
        return (*self.warnings, *((self.verdict,) if self.verdict else ()), *self.notes)


def selection_by_group(
    campaign: Campaign, users: pd.DataFrame, column: str, base: Iterable[Any], *, min_size: int = MIN_GROUP_SIZE
) -> SelectionCheck:
    """Share of each customer group that is targeted, against the base, with the four-fifths rule.

    Any customer column may be checked, sensitive ones included (they are left out of the model,
    never out of the audit). Groups smaller than ``min_size`` in the base are listed but not judged.
    """
    base_values = group_values(users, column, base)
    targeted_ids = pd.unique(campaign.audience.frame[C.USER_ID].astype(str).to_numpy(object))
    targeted_values = group_values(users, column, targeted_ids)
    table = pd.DataFrame({
        BASE: base_values.value_counts(),
        TARGETED: targeted_values.value_counts(),
    }).fillna(0).astype(np.int64).rename_axis(VALUE).reset_index()
    table[RATE] = table[TARGETED] / table[BASE].where(table[BASE] > 0)
    judged = table[BASE] >= min_size
    best = table.loc[judged, RATE].max() if judged.any() else np.nan
    table[RATIO] = table[RATE] / best if best and np.isfinite(best) and best > 0 else np.nan
    table[SHARE_OF_BASE] = table[BASE] / max(int(table[BASE].sum()), 1)
    table[SHARE_TARGETED] = table[TARGETED] / max(int(table[TARGETED].sum()), 1)
    table[FLAG] = judged & (table[RATIO] < FOUR_FIFTHS)
    table = table.sort_values(RATE, ascending=False, kind="stable").reset_index(drop=True)
    return SelectionCheck(column, table, *_selection_messages(column, table, best, min_size))


def _selection_messages(
    column: str, table: pd.DataFrame, judged_best: float, min_size: int
) -> tuple[tuple[str, ...], str | None, tuple[str, ...]]:
    label = column.replace("_", " ") if current_language() == "en" else column  # other languages: the data's name
    small = table[table[BASE] < min_size]
    notes = (_("Too few customers to judge (under {n}): {groups}.").format(
        n=min_size, groups=", ".join(map(str, small[VALUE]))),) if len(small) else ()
    if table.empty or not np.isfinite(judged_best) or judged_best <= 0:
        return (), None, (_("No {label} group with {n}+ customers has anyone targeted: nothing to compare.").format(
            label=label, n=min_size), *notes)
    top = table[(table[BASE] >= min_size)].iloc[0]
    flagged = table[table[FLAG]]
    warnings = tuple(
        _("**{label} = {value}**: {rate} of these customers are targeted, against {top_rate} of "
          "**{top}** (the most targeted group) — a ratio of {ratio}, below the four-fifths rule "
          "(0.80). The campaign reaches this group much less than others; check the customer filters and "
          "segments, or re-rank on the Fairness page.").format(
            label=label, value=row.value, rate=f"{row.rate:.1%}", top_rate=f"{top.rate:.1%}", top=top.value,
            ratio=f"{row.ratio:.2f}")
        for row in flagged.itertuples(index=False)
    )
    verdict = None if warnings else _(
        "Every {label} group with {n}+ customers is targeted at least four-fifths as often as the most "
        "targeted group (**{top}**, {rate}): no adverse-impact flag under the four-fifths rule.").format(
        label=label, n=min_size, top=top.value, rate=f"{top.rate:.1%}")
    return warnings, verdict, notes


__all__ = [
    "SelectionCheck", "offer_names", "offer_choices", "score_histogram", "group_values", "group_mix",
    "selection_by_group",
]


def rerank_effect(settings: dict[str, Any], with_it: pd.DataFrame, without: pd.DataFrame, *,
                  items: pd.DataFrame | None, probabilities: bool) -> dict[str, Any]:
    """What a saved fairness re-ranking did to a list, for the Campaign banner and the manifest.

    ``with_it`` / ``without``: the audience frames allocated with and without it. Returns the
    settings, their description, the expected responders among the coupons sent with and without
    it (sum of the model's probabilities of the treatment rows; None when ``score`` is not a
    probability) and how many sent coupons (customer, offer) differ.
    """
    try:
        description = RerankSettings.from_dict(settings).describe(items)
    except (ValueError, TypeError):  # settings of another version or hook: named as they are
        description = f"saved re-ranking {dict(settings)}"
    a = with_it[with_it[C.GROUP] == C.TREATMENT]
    b = without[without[C.GROUP] == C.TREATMENT]
    key_a = a[C.USER_ID].astype(str) + "\x1f" + a[C.ITEM_ID].astype(str)
    key_b = b[C.USER_ID].astype(str) + "\x1f" + b[C.ITEM_ID].astype(str)
    return {
        "settings": dict(settings), "description": description,
        "expected_with": float(a[C.SCORE].sum()) if probabilities else None,
        "expected_without": float(b[C.SCORE].sum()) if probabilities else None,
        "pairs_changed": int((~key_a.isin(set(key_b))).sum()),
    }


def offer_table(items: pd.DataFrame | None, offers: Iterable[Any], start: str | None, end: str | None) -> pd.DataFrame:
    """``item_id``, ``offer_name`` and the days each offer runs (``offer_start`` / ``offer_end`` as
    ``YYYY-MM-DD`` text, empty when unknown): the offer columns of an export."""
    ids = [str(o) for o in offers]
    names = offer_names(items, ids)
    out = pd.DataFrame({C.ITEM_ID: ids, export.OFFER_NAME: [names.get(i, i) for i in ids]})
    for canonical, column in ((export.OFFER_START, start), (export.OFFER_END, end)):
        if items is None or column is None or column not in items.columns:
            out[canonical] = ""
            continue
        days = pd.to_datetime(items[column], errors="coerce").dt.strftime("%Y-%m-%d")
        lookup = pd.Series(days.to_numpy(object), index=items[C.ITEM_ID].astype(str)).groupby(level=0).first()
        out[canonical] = out[C.ITEM_ID].map(lookup).fillna("")
    return out
