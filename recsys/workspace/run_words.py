"""A run's figures in a marketer's words: model labels, the validation verdict against every other
model, and the targeting statement (how well the run picks customers for an offer).

Every sentence is made in the current language (:mod:`recsys.core.i18n`) from the run's stored
figures, so a run trained in one language reads in another. :mod:`recsys.workspace.runs` re-exports
these names (``runs.verdict``, ``runs.MODEL_LABELS`` ...).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from recsys.core.i18n import N_
from recsys.core.i18n import gettext as _
from recsys.learn import serve
from recsys.learn.pipeline import COLLABORATIVE, HYBRID, POPULARITY, RANDOM
from recsys.learn.response import EXPOSURE
from recsys.learn.select import ALS, EASE, ITEM_KNN, RECENT_POPULARITY
from recsys.metrics.targeting import AUC, OURS


#: Words for the baselines in verdicts.
#: (Marked for translation: show them with ``_()``, as the functions below do.)
BASELINE_WORDS = {
    HYBRID: N_("the hybrid model (customer and offer facts + history)"),
    POPULARITY: N_("recommending the most popular offers of all time"),
    RANDOM: N_("picking offers at random"),
    COLLABORATIVE: N_("the same model without customer and offer facts"),
    RECENT_POPULARITY: N_("recommending the recent best-sellers"),
    EASE: N_("EASE (offers bought together, a linear model)"),
    ITEM_KNN: N_("similar offers to what the customer took (item-kNN)"),
    ALS: N_("ALS (matrix factorisation of who took what)"),
}
#: Short plain labels of every model (tables and charts; marked for translation).
MODEL_LABELS = {
    HYBRID: N_("Our model (hybrid)"), RECENT_POPULARITY: N_("Recent best-sellers"), EASE: "EASE",
    ITEM_KNN: N_("Item-kNN"), ALS: "ALS", COLLABORATIVE: N_("Collaborative only"),
    POPULARITY: N_("All-time best-sellers"), RANDOM: N_("Random"),
}
GROUP_WORDS = {"all": N_("all customers"), "warm": N_("customers with a history"), "cold": N_("new customers")}
#: The verdict of a paired difference (``comparisons["verdict"]``), in words.
VERDICT_WORDS = {"better": N_("better"), "no clear difference": N_("no clear difference"), "worse": N_("worse")}


def model_label(name: str) -> str:
    """A model's short plain label in the current language (:data:`MODEL_LABELS`; the name when unknown)."""
    return _(MODEL_LABELS[name]) if name in MODEL_LABELS else str(name)


def _baseline_words(name: str) -> str:
    return _(BASELINE_WORDS[name]) if name in BASELINE_WORDS else str(name)



#: Words for the targeting baselines (keys: the names in the targeting report).
TARGETING_BASELINE_WORDS = {
    "random": N_("picking customers at random"),
    "past response rate": N_("each customer's past response rate"),
    "segment x offer type": N_("the segment's past rate for that kind of offer"),
    "raw score": N_("the model's raw score (how lists were ranked before)"),
}


def targeting_note(targeting: Mapping[str, Any]) -> str:
    """What the targeting figures can and cannot say (``targeting_eval.honest_note``), in the current
    language: rebuilt from the record's figures, or the stored English note of an older record."""
    kind, n_offers = targeting.get("data_kind"), targeting.get("n_offers")
    if kind is None or n_offers is None:
        return str(targeting.get("note", ""))
    summary = {(r["model"], r["metric"]): r for r in targeting.get("summary", [])}
    s = summary.get((OURS, AUC))
    if s is not None:
        auc = _("customer-ranking AUC {mean} [{low}, {high}]").format(
            mean=f"{s['mean']:.2f}", low=f"{s['low']:.2f}", high=f"{s['high']:.2f}")
    else:
        auc = _("no customer-ranking AUC (no offer of the test period had enough responders)")
    if kind == EXPOSURE:
        return _("Judged on who was actually sent or shown each offer in the test period ({rows} customer x offer "
                 "pairs, {offers} offers): {auc}.").format(rows=f"{targeting.get('n_rows') or 0:,}", offers=n_offers,
                                                           auc=auc)
    return _("This data has no record of who was sent what: the probabilities assume every active customer "
             "saw every live offer, so they say who is likely to take an offer, not how many more respond "
             "because it was sent; the percentages are best read as relative. Judged on all active customers "
             "x the {offers} offers taken in the test period: {auc}.").format(offers=n_offers, auc=auc)


def _targeting_words(name: str) -> str:
    return _(TARGETING_BASELINE_WORDS[name]) if name in TARGETING_BASELINE_WORDS else str(name)


@dataclass(frozen=True)
class TargetingStatement:
    """The targeting judgement of a run in a marketer's words (see :func:`targeting_statement`)."""

    available: bool
    beats_all: bool
    headline: str
    lift: str
    calibration: str
    note: str


def targeting_statement(targeting: Mapping[str, Any]) -> TargetingStatement:
    """Plain words from a run's ``extra["targeting"]``: the chance that a responder is ranked above a
    non-responder (AUC, %) for ours and each baseline with intervals, the lift of the top N, and the
    largest gap between predicted and observed responders per tenth."""
    if targeting.get("status") != "ok":
        reason = _(targeting.get("reason") or "this run was trained before response probabilities existed")
        return TargetingStatement(False, False, _(
            "No response probabilities for this run: {reason}. Campaign lists fall back to the model's raw score, "
            "which does not compare customers fairly.").format(reason=reason), "", "", "")
    summary = {(r["model"], r["metric"]): r for r in targeting.get("summary", [])}
    diffs = {(r["baseline"], r["metric"]): r for r in targeting.get("differences", [])}
    ref = targeting.get("reference", "probability")

    def pct(r: Mapping[str, Any]) -> str:
        return f"{100 * r['mean']:.0f}% [{100 * r['low']:.0f}-{100 * r['high']:.0f}%]"

    ours = summary.get((ref, "auc"))
    if ours is None or ours.get("mean") is None:
        return TargetingStatement(True, False, _("Too few offers had responders in the test period to judge how well "
                                                 "customers are picked."), "", "", _(targeting.get("note", "")))
    baselines = [b for (b, m) in diffs if m == "auc"]
    beaten = [b for b in baselines if (diffs[(b, "auc")].get("low") or 0) > 0]
    beats_all = bool(baselines) and len(beaten) == len(baselines)
    others = _("; ").join(_("{value} for {baseline}").format(value=pct(summary[(b, "auc")]), baseline=_targeting_words(b))
                          for b in baselines)
    if beats_all:
        lead = _("Picking customers for an offer: the response probabilities beat every simple alternative.")
    elif beaten:
        lead = _("Picking customers for an offer: the response probabilities beat {baselines}, but not every "
                 "alternative.").format(baselines=_(", ").join(_targeting_words(b) for b in beaten))
    else:
        lead = _("Picking customers for an offer: the response probabilities do NOT clearly beat the simple "
                 "alternatives.")
    headline = _("{lead} Asked to tell a customer who responded to an offer from one who did not, they rank the "
                 "responder higher {auc} of the time, against {others} (50% = a coin flip).").format(
                     lead=lead, auc=pct(ours), others=others)
    lift = ""
    for n in targeting.get("n_values", [])[:1]:
        r, p = summary.get((ref, f"lift@{n}")), summary.get((ref, f"precision@{n}"))
        if r and r.get("mean") is not None:
            lift = _("Among the top {n} customers picked per offer, {share} responded: {lift} as many as in {n} "
                     "customers picked at random.").format(
                         n=n, share=f"{100 * p['mean']:.1f}%", lift=f"{r['mean']:.1f}x [{r['low']:.1f}-{r['high']:.1f}x]")
    calibration = ""
    deciles = targeting.get("deciles") or []
    if deciles:
        worst = max(deciles, key=lambda d: abs(d.get("gap") or 0))
        calibration = _("Are the percentages right? Across the test period's tenths of customer x offer pairs, "
                        "predicted and observed response rates differ by at most {gap} points (tenth {tenth}: "
                        "{predicted} predicted, {observed} observed).").format(
                            gap=f"{100 * abs(worst['gap']):.1f}", tenth=worst["decile"],
                            predicted=f"{100 * worst['mean_predicted']:.1f}%",
                            observed=f"{100 * worst['observed_rate']:.1f}%")
    horizon = targeting.get("horizon_days")
    note = targeting_note(targeting) + (
        _(" A response counts within {days} days of the offer.").format(days=horizon) if horizon else "")
    return TargetingStatement(True, beats_all, headline, lift, calibration, note)


def verdict(metrics: pd.DataFrame, k: int, split: str, comparisons: pd.DataFrame | None = None,
            choice: str = HYBRID) -> str:
    """Plain words on how the run's validation choice does against every other model on test.

    With ``comparisons`` (:attr:`RunRecord.comparisons`), every difference is judged by its paired
    95% interval: "better", "worse" or "no clear difference". Runs recorded before intervals get the
    point estimates and say that they are only that.
    """
    key = f"precision@{k}"
    if comparisons is not None and len(comparisons):
        return interval_verdict(metrics, k, comparisons, choice)
    if HYBRID not in metrics.index or key not in metrics.columns:
        return _("No evaluation figures for this run.")
    ours = float(metrics.loc[HYBRID, key])
    parts = []
    for name in metrics.index:
        if name == HYBRID:
            continue
        theirs = float(metrics.loc[name, key])
        parts.append(_("{value} for {model}").format(value=f"{theirs:.3f}", model=_baseline_words(name)))
    return (_("Among each customer's top {k}, precision@{k} = {value} for the model against ").format(
        k=k, value=f"{ours:.3f}") + ", ".join(parts)
        + _(". These are point estimates only (this run was recorded before intervals): retrain to see which "
            "differences are clear."))


def _fmt_diff(r: Mapping[str, Any]) -> str:
    if r.get("low") is None or pd.isna(r.get("low")):
        return f"{r['diff']:+.4f}"
    return f"{r['diff']:+.4f} [{r['low']:+.4f}, {r['high']:+.4f}]"


def interval_verdict(metrics: pd.DataFrame, k: int, comparisons: pd.DataFrame, choice: str) -> str:
    """The verdict of :func:`verdict` for a run with paired intervals."""
    key = f"precision@{k}"
    rows = comparisons[(comparisons["metric"] == key) & (comparisons["group"] == "all")]
    label = model_label(choice)
    lead = (_("The hybrid model is the best on validation") if choice == HYBRID
            else _("{model} beats the hybrid on validation, so it is this run's best validated model").format(model=label))
    if choice in metrics.index and key in metrics.columns:
        lead += _(" (precision@{k} on test = {value})").format(k=k, value=f"{float(metrics.loc[choice, key]):.3f}")
    groups: dict[str, list[str]] = {"better": [], "no clear difference": [], "worse": []}
    for r in rows.to_dict("records"):
        groups.setdefault(str(r["verdict"]), []).append(f"{_baseline_words(r['model'])} ({_fmt_diff(r)})")
    words = {"better": N_("better than {models}"), "no clear difference": N_("no clear difference from {models}"),
             "worse": N_("worse than {models}")}
    parts = [_(words[v]).format(models=_("; ").join(items)) if v in words else f"{v} " + "; ".join(items)
             for v, items in groups.items() if items]
    serving = ("" if choice == HYBRID or choice not in serve.KINDS else _(
        " The run serves {model} (recommendations, targeting probabilities and exports) unless switched back to the "
        "hybrid on the Train page or with `promolens serve RUN hybrid`.").format(model=label))
    return (_("{lead}. On the held-out test period it is {parts}").format(lead=lead, parts=_(", and ").join(parts))
            + _(" (difference in precision@{k}, 95% interval over customers).").format(k=k) + serving)
