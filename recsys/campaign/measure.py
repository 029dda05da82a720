"""What did the campaign really change? Treatment vs control lift with confidence intervals.

Two entry points:

* :func:`measure` - any table with an arm column (e.g. the Hillstrom e-mail test: ``segment`` with
  ``No E-Mail`` as control) and one or more outcome columns (0/1 such as converted, or amounts
  such as revenue);
* :func:`measure_export` - outcomes (customer id + converted / redeemed / revenue) uploaded for a
  past export: joined to the export's treatment and control customers.

For every outcome and every arm against the control (``t`` = arm, ``c`` = control, ``n`` size,
``m`` mean, ``v`` sample variance):

* **absolute lift** :math:`\\Delta = m_t - m_c` with a Welch confidence interval
  :math:`\\Delta \\pm t_{1-\\alpha/2,\\nu}\\, se`, :math:`se = \\sqrt{v_t/n_t + v_c/n_c}` and
  Welch-Satterthwaite degrees of freedom :math:`\\nu`; the two-sided p-value is Welch's t-test
  (identical to ``scipy.stats.ttest_ind(equal_var=False)``). For 0/1 outcomes this is the
  unpooled two-proportion test.
* **relative lift** :math:`m_t / m_c - 1` with a delta-method interval on the log ratio,
  :math:`\\exp(\\log(m_t/m_c) \\pm z\\, \\sqrt{v_t/(n_t m_t^2) + v_c/(n_c m_c^2)}) - 1`.
* **incremental** conversions or revenue :math:`n_t \\Delta` (and its interval).
* **power**: the minimum detectable effect at 80% power,
  :math:`MDE = (z_{1-\\alpha/2} + z_{0.8})\\, se`, the power the test had for the observed
  :math:`\\Delta`, and the control size that would have been needed to detect it. A warning is
  raised when a result is not significant and the test was underpowered for the lift seen.
* **Holm-adjusted p-values** over all arms and outcomes, because several comparisons are made.

With a score column, customers are put into score deciles (within offer when there is an offer
column) and the lift is measured per decile: a model that finds customers who respond *because*
of the coupon shows more lift in its top deciles than in its bottom ones (uplift).

>>> import pandas as pd
>>> table = pd.DataFrame({"arm": ["A"] * 4 + ["ctl"] * 4, "bought": [1, 1, 0, 1, 0, 1, 0, 0]})
>>> result = measure(table, "arm", "ctl", ["bought"])
>>> result.arms[["arm", "n", "mean"]].to_dict("records")
[{'arm': 'A', 'n': 4, 'mean': 0.75}, {'arm': 'ctl', 'n': 4, 'mean': 0.25}]
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from recsys.core import columns as C
from recsys.campaign.verdicts import fmt_ci, fmt_lift, fmt_p
from recsys.campaign.verdicts import verdicts as verdict_words
from recsys.core.jsonio import jsonable
from recsys.metrics.uplift import evaluate_uplift
from recsys.data.validate import (
    FIRST_DATA_ROW,
    MAX_EXAMPLE_ROWS,
    DataError,
    Problem,
    invisible_id_problem,
    long_id_problem,
)

ALPHA = 0.05
POWER = 0.8
SCORE_BINS = 10
#: Share of the score range called "top" and "bottom" when comparing uplift across deciles.
EDGE_SHARE = 0.3
#: p-value below which the observed control share is called a sample-ratio mismatch.
SRM_ALPHA = 0.001
MIN_ARM_SIZE = 2
#: Environment variable naming the real Hillstrom e-mail test CSV (offered as an example on the Measure page).
HILLSTROM_ENV = "PROMOLENS_HILLSTROM"

_TRUE = frozenset({"1", "true", "yes", "y", "t", "converted", "redeemed"})
_FALSE = frozenset({"0", "false", "no", "n", "f", ""})
_ARM_WORDS = ("arm", "group", "segment", "variant", "treatment", "cell", "condition", "bucket", "test")
_OUTCOME_WORDS = ("conver", "redeem", "visit", "revenue", "spend", "sales", "order", "bought", "purchas", "click",
                  "value", "amount", "response", "respond", "outcome", "churn", "open")
_CONTROL_WORDS = ("control", "holdout", "hold-out", "hold out", "no ", "no-", "no_", "none", "baseline", "untreated",
                  "对照", "空白组")  # Chinese files: 对照组 (control group), 空白组 (blank group)


class MeasureError(DataError):
    """The results table cannot be measured; every problem names file, column, rows and fix."""

    def __str__(self) -> str:
        n = len(self.problems)
        lines = [f"The results could not be measured: {n} problem{'s' if n != 1 else ''} "
                 "(row numbers as a spreadsheet shows them, header = row 1)."]
        lines += [f"  {i}. {p}" for i, p in enumerate(self.problems, start=1)]
        return "\n".join(lines)


@dataclass(frozen=True)
class Measurement:
    """The lift of every arm over the control, per outcome.

    Attributes
    ----------
    arms
        One row per (outcome, arm): ``outcome``, ``kind`` (rate or mean), ``arm``, ``is_control``,
        ``n``, ``mean``, ``mean_low``, ``mean_high``, ``lift``, ``lift_low``, ``lift_high``,
        ``rel_lift``, ``rel_low``, ``rel_high``, ``p_value``, ``p_holm``, ``incremental``,
        ``incremental_low``, ``incremental_high``, ``mde``, ``power``, ``control_needed``
        (lift columns are empty on the control row).
    deciles
        With scores: one row per (outcome, arm, ``score_decile``) with the treated and control
        sizes and means and the lift with its interval; else None.
    by_offer
        With an offer column: the same comparison within each offer; else None.
    uplift
        With scores: per (outcome, arm) the lift in the top and bottom ``EDGE_SHARE`` of scores and
        their difference with a 95% interval; else None.
    verdicts
        Plain-language sentences, one per (outcome, arm).
    warnings
        Things the reader must know (underpowered tests, unmatched ids, group-size mismatch).
    params
        What was measured and how (JSON-able).
    """

    arms: pd.DataFrame
    deciles: pd.DataFrame | None
    by_offer: pd.DataFrame | None
    uplift: pd.DataFrame | None
    verdicts: list[str]
    warnings: list[str]
    params: dict[str, Any] = field(default_factory=dict)
    #: With scores: the Qini curve of the score per (outcome, arm) (``metrics.uplift`` curves + columns
    #: ``outcome, arm``) and its Qini coefficient / AUUC / uplift@30% with intervals, vs random; else None.
    qini: pd.DataFrame | None = None
    qini_curves: pd.DataFrame | None = None

    def outcomes(self) -> list[str]:
        return list(dict.fromkeys(self.arms["outcome"]))

    def to_dict(self) -> dict[str, Any]:
        """JSON-able (NaN -> None)."""
        def records(frame: pd.DataFrame | None) -> list[dict[str, Any]] | None:
            if frame is None:
                return None
            clean = frame.astype(object).where(frame.notna(), None)
            return [{k: jsonable(v) for k, v in row.items()} for row in clean.to_dict("records")]

        return {
            "params": self.params, "arms": records(self.arms), "deciles": records(self.deciles),
            "by_offer": records(self.by_offer), "uplift": records(self.uplift),
            "verdicts": self.verdicts, "warnings": self.warnings, "qini": records(self.qini),
        }


# ============================================================================== statistics
def compare(
    n_t: np.ndarray, m_t: np.ndarray, v_t: np.ndarray,
    n_c: np.ndarray, m_c: np.ndarray, v_c: np.ndarray,
    alpha: float = ALPHA, power: float = POWER,
) -> dict[str, np.ndarray]:
    """Welch lift statistics of treated vs control summaries (vectorised over arrays).

    Parameters
    ----------
    n_t, m_t, v_t, n_c, m_c, v_c
        Sizes, means and sample variances (``ddof=1``) of treated and control.
    alpha
        1 - confidence level.
    power
        Target power of the minimum detectable effect.

    Returns
    -------
    dict
        ``lift``, ``lift_low``, ``lift_high``, ``se``, ``df``, ``p_value``, ``rel_lift``,
        ``rel_low``, ``rel_high``, ``mde``, ``power``, ``control_needed`` (arrays).

    Examples
    --------
    >>> out = compare(np.array([100.]), np.array([0.3]), np.array([0.21]),
    ...               np.array([100.]), np.array([0.2]), np.array([0.16]))
    >>> round(float(out["lift"][0]), 3), round(float(out["p_value"][0]), 3)
    (0.1, 0.102)
    """
    n_t, m_t, v_t, n_c, m_c, v_c = (np.asarray(a, dtype=np.float64) for a in (n_t, m_t, v_t, n_c, m_c, v_c))
    with np.errstate(divide="ignore", invalid="ignore"):
        a, b = v_t / n_t, v_c / n_c
        se = np.sqrt(a + b)
        df = (a + b) ** 2 / (a**2 / (n_t - 1) + b**2 / (n_c - 1))
        lift = m_t - m_c
        z_half = stats.norm.ppf(1 - alpha / 2)
        t_half = np.where(np.isfinite(df) & (df > 0), stats.t.ppf(1 - alpha / 2, np.where(df > 0, df, 1)), z_half)
        t_stat = lift / se
        p_value = np.where(se > 0, 2 * stats.t.sf(np.abs(t_stat), np.where(np.isfinite(df) & (df > 0), df, 1e9)),
                           np.where(lift == 0, 1.0, 0.0))
        rel = np.where(m_c != 0, m_t / m_c - 1, np.nan)
        positive = (m_t > 0) & (m_c > 0)
        log_se = np.sqrt(v_t / (n_t * m_t**2) + v_c / (n_c * m_c**2))
        log_ratio = np.log(np.where(positive, m_t / np.where(m_c > 0, m_c, 1), np.nan))
        rel_low = np.where(positive, np.exp(log_ratio - z_half * log_se) - 1, np.nan)
        rel_high = np.where(positive, np.exp(log_ratio + z_half * log_se) - 1, np.nan)
        z_power = stats.norm.ppf(power)
        mde = (z_half + z_power) * se
        shift = np.abs(lift) / se
        achieved = np.where(se > 0, stats.norm.cdf(shift - z_half) + stats.norm.cdf(-shift - z_half), 1.0)
        target_se2 = (lift / (z_half + z_power)) ** 2
        room = target_se2 - a
        control_needed = np.where((room > 0) & (lift != 0), np.ceil(v_c / np.where(room > 0, room, 1)), np.inf)
    return {
        "lift": lift, "lift_low": lift - t_half * se, "lift_high": lift + t_half * se, "se": se, "df": df,
        "p_value": p_value, "rel_lift": rel, "rel_low": rel_low, "rel_high": rel_high, "mde": mde,
        "power": achieved, "control_needed": control_needed,
    }


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm step-down adjusted p-values (NaN stays NaN).

    >>> holm([0.01, 0.04, 0.03]).round(2).tolist()
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full_like(p, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    if len(ok) == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    k = len(order)
    adjusted = np.maximum.accumulate(np.minimum(1.0, (k - np.arange(k)) * p[order]))
    out[order] = adjusted
    return out


def sample_ratio_p(n_control: int, n_total: int, planned_share: float) -> float:
    """p-value of a chi-square test that the control share is the planned one (sample-ratio check)."""
    expected = np.array([planned_share, 1 - planned_share]) * n_total
    observed = np.array([n_control, n_total - n_control])
    return float(stats.chisquare(observed, expected).pvalue)


# ============================================================================== measuring
def measure(
    frame: pd.DataFrame,
    arm: str,
    control: Any,
    outcomes: Sequence[str],
    *,
    score: str | None = None,
    offer: str | None = None,
    alpha: float = ALPHA,
    power: float = POWER,
    score_bins: int = SCORE_BINS,
    source: str = "table",
) -> Measurement:
    """Lift of every arm over the control for each outcome.

    Parameters
    ----------
    frame
        One row per customer.
    arm
        The column naming each customer's arm (e.g. ``group`` or ``segment``).
    control
        The control arm's value (compared as text, e.g. ``"No E-Mail"`` or ``"control"``).
    outcomes
        Outcome columns: 0/1 (also true/false, yes/no) or amounts.
    score
        Optional model-score column: adds lift by score decile and an uplift comparison.
    offer
        Optional offer column: deciles within offer, and lift per offer.
    alpha, power
        Test level (95% intervals by default) and target power of the MDE.
    score_bins
        Number of score bins (10 = deciles).
    source
        The file name used in messages.

    Raises
    ------
    MeasureError
        Every problem at once: missing columns, unknown control, non-numeric or missing outcomes,
        arms that are too small.
    """
    problems: list[Problem] = []
    outcomes = list(dict.fromkeys(outcomes))
    if not outcomes:
        problems.append(Problem(source, None, (), 0, "no outcome column was chosen",
                                "Pick at least one outcome column (e.g. converted, revenue)."))
    for column in [arm, *outcomes, *(c for c in (score, offer) if c)]:
        if column not in frame.columns:
            problems.append(Problem(source, column, (), 0, f"there is no column '{column}'{_did_you_mean(column, frame.columns)}",
                                    f"Choose one of: {', '.join(map(str, list(frame.columns)[:15]))}."))
    if problems:
        raise MeasureError(problems)
    arms = _arm_labels(frame[arm])
    control = str(control).strip()
    present = pd.unique(arms.dropna())
    if control not in set(present):
        problems.append(Problem(
            source, arm, (), 0, f"no row has the control value '{control}'{_did_you_mean(control, present)}",
            f"Pick the control arm among: {', '.join(map(str, sorted(present)[:10]))}.",
        ))
    if arms.isna().any():
        problems.append(_rows_problem(source, arm, arms.isna().to_numpy(), "rows have no arm",
                                      "Fill in the arm of every row, or delete those rows."))
    values = {}
    for column in outcomes:
        parsed, problem = _outcome(frame[column], source, column)
        if problem is not None:
            problems.append(problem)
        values[column] = parsed
    scores = None
    if score:
        scores = pd.to_numeric(frame[score], errors="coerce")
        if scores.isna().any():
            problems.append(_rows_problem(source, score, scores.isna().to_numpy(), "rows have no numeric score",
                                          "Fill in the score, or measure without the score column."))
    if not problems:
        sizes = arms.value_counts()
        small = sizes[sizes < MIN_ARM_SIZE]
        if len(sizes) < 2:
            problems.append(Problem(source, arm, (), 0, f"there is only one arm ('{present[0]}')",
                                    "The table needs the control arm and at least one treated arm."))
        for name, size in small.items():
            problems.append(Problem(source, arm, (), int(size), f"arm '{name}' has only {size} row(s)",
                                    f"Each arm needs at least {MIN_ARM_SIZE} customers to measure a spread."))
    if problems:
        raise MeasureError(problems)

    data = pd.DataFrame({C.ARM: arms.to_numpy(), **{c: v.to_numpy() for c, v in values.items()}})
    kinds = {c: "rate" if _is_binary(values[c]) else "mean" for c in outcomes}
    arms_table = _arms_table(data, control, outcomes, kinds, alpha, power)
    deciles = uplift = by_offer = qini = qini_curves = None
    if scores is not None:
        groups = frame[offer].astype(str).to_numpy() if offer else np.zeros(len(frame), dtype=np.int64)
        data[C.SCORE_DECILE] = score_bins_of(groups, scores.to_numpy(np.float64), score_bins)
        deciles = _split_table(data, C.SCORE_DECILE, control, outcomes, kinds, alpha, power)
        uplift = _uplift(data, control, outcomes, score_bins, alpha)
        qini, qini_curves = _qini(data, control, outcomes, scores.to_numpy(np.float64))
    if offer:
        data[C.ITEM_ID] = frame[offer].astype(str).to_numpy()
        by_offer = _split_table(data, C.ITEM_ID, control, outcomes, kinds, alpha, power)
    warnings = verdict_words(arms_table, uplift, alpha, power)
    verdicts = [v for v in arms_table["verdict"] if v] + ([] if uplift is None or uplift.empty else list(uplift["verdict"]))
    params = {
        "source": source, "arm_column": arm, "control": control, "outcomes": outcomes, "kinds": kinds,
        "score_column": score, "offer_column": offer, "alpha": alpha, "power": power, "score_bins": score_bins,
        "rows": int(len(frame)), "method": "Welch t (unpooled), delta-method relative lift, Holm adjustment",
    }
    return Measurement(arms_table, deciles, by_offer, uplift, verdicts, warnings, params, qini, qini_curves)


def _qini(data: pd.DataFrame, control: str, outcomes: list[str], scores: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Qini curve and coefficient of the score per outcome and arm against the control (vs random)."""
    tables, curves = [], []
    for outcome in outcomes:  # a handful of outcomes and arms
        for arm in [a for a in pd.unique(data[C.ARM]) if a != control]:
            rows = data[C.ARM].isin([arm, control]).to_numpy()
            random = np.random.default_rng(0).random(int(rows.sum()))
            e = evaluate_uplift(data.loc[rows, outcome], data.loc[rows, C.ARM].eq(arm), {"score": scores[rows], "random": random})
            tables.append(e.table.reset_index().assign(outcome=outcome, arm=arm))
            curves.append(e.curves.assign(outcome=outcome, arm=arm))
    return pd.concat(tables, ignore_index=True), pd.concat(curves, ignore_index=True)


def measure_export(
    targets: pd.DataFrame,
    outcomes: pd.DataFrame,
    outcome_columns: Sequence[str],
    *,
    user_column: str | None = None,
    missing_as_zero: bool = True,
    planned_share: float | None = None,
    alpha: float = ALPHA,
    power: float = POWER,
    source: str = "outcomes",
    export_id: str | None = None,
) -> Measurement:
    """Lift of a past export: its treatment customers vs its control customers.

    Customers are the export's (one per customer: their group, best offer and its score).
    Outcome rows are matched by customer id (text; ids copied from the export CSV with a
    neutralising ``'`` are matched too); several rows of one customer are summed (0/1 outcomes:
    any). Export customers without an outcome row count as 0 (no conversion, no revenue) unless
    ``missing_as_zero`` is False, then they are left out.

    Parameters
    ----------
    targets
        The export's rows (``export.load_targets``): ``user_id``, ``item_id``, ``score``, ``rank``,
        ``group``.
    outcomes
        The uploaded outcomes table.
    outcome_columns
        Its outcome columns.
    user_column
        Its customer-id column (default: guessed, e.g. ``user_id`` or ``CustomerID``).
    planned_share
        The export's holdout share: a sample-ratio check warns when the control share is off.
    """
    from recsys.campaign import export
    from recsys.data.mapping import guess_mapping

    user_column = user_column or guess_mapping([str(c) for c in outcomes.columns], C.Table.USERS).get(C.USER_ID)
    if user_column is None or user_column not in outcomes.columns:
        raise MeasureError([Problem(
            source, user_column, (), 0,
            "no customer id column was found" if user_column is None else f"there is no column '{user_column}'",
            f"Name the column with the customer ids (it has {', '.join(map(str, list(outcomes.columns)[:15]))}).",
        )])
    missing = [c for c in outcome_columns if c not in outcomes.columns]
    if missing:
        raise MeasureError([Problem(source, c, (), 0, f"there is no column '{c}'{_did_you_mean(c, outcomes.columns)}",
                                    f"Choose outcome columns among: {', '.join(map(str, list(outcomes.columns)[:15]))}.")
                            for c in missing])
    customers = targets.sort_values([C.USER_ID, C.RANK], kind="stable").drop_duplicates(C.USER_ID)
    customer_ids = customers[C.USER_ID].astype(str).str.strip()
    ids = outcomes[user_column].astype(str).str.strip()
    id_problems = [p for p in (
        invisible_id_problem(ids, file=source, column=str(user_column), canonical=C.USER_ID),
        long_id_problem(ids, file=source, column=str(user_column), canonical=C.USER_ID),
    ) if p is not None]
    if id_problems:  # they would silently match no one
        raise MeasureError(id_problems)
    restored = export.restore(ids).astype(str)
    known = pd.Index(customer_ids.unique())
    ids = ids.where(ids.isin(known) | ~restored.isin(known), restored)
    matched = ids.isin(known).to_numpy()
    problems: list[Problem] = []
    parsed: dict[str, pd.Series] = {}
    for column in outcome_columns:
        values, problem = _outcome(outcomes[column], source, column)
        if problem is not None:
            problems.append(problem)
        parsed[column] = values
    if problems:
        raise MeasureError(problems)
    per_row = pd.DataFrame({C.USER_ID: ids.to_numpy()[matched], **{c: v.to_numpy()[matched] for c, v in parsed.items()}})
    binary = [c for c in outcome_columns if _is_binary(parsed[c])]
    aggregated = per_row.groupby(C.USER_ID, sort=False).agg(
        {c: ("max" if c in binary else "sum") for c in outcome_columns}
    )
    table = pd.DataFrame({
        C.USER_ID: customer_ids.to_numpy(), C.GROUP: customers[C.ARM if C.ARM in customers else C.GROUP].astype(str).to_numpy(),
        C.ITEM_ID: customers[C.ITEM_ID].astype(str).to_numpy(), C.SCORE: customers[C.SCORE].to_numpy(np.float64),
    }).merge(aggregated, left_on=C.USER_ID, right_index=True, how="left")
    without = int(table[outcome_columns[0]].isna().sum()) if outcome_columns else 0
    if missing_as_zero:
        table[list(outcome_columns)] = table[list(outcome_columns)].fillna(0.0)
    else:
        table = table.dropna(subset=list(outcome_columns))
    result = measure(table, C.GROUP, C.CONTROL, outcome_columns, score=C.SCORE, offer=C.ITEM_ID,
                     alpha=alpha, power=power, source=source)
    notes: list[str] = []
    unmatched = int((~matched).sum())
    if unmatched:
        notes.append(f"{unmatched:,} outcome rows ({unmatched / max(len(outcomes), 1):.0%}) name customers who are not "
                     "in this export; they were left out. Check that the ids are the export's customer ids.")
    if without:
        notes.append(f"{without:,} export customers have no outcome row and were "
                     f"{'counted as 0 (no conversion, no revenue)' if missing_as_zero else 'left out'}.")
    n_control = int((table[C.GROUP] == C.CONTROL).sum())
    if planned_share:
        p_srm = sample_ratio_p(n_control, len(table), float(planned_share))
        if p_srm < SRM_ALPHA:
            notes.append(f"The control group is {n_control / len(table):.1%} of customers instead of the planned "
                         f"{planned_share:.0%} (p = {p_srm:.1g}): the groups may have been mixed up or filtered. "
                         "Check before trusting the lift.")
    params = {**result.params, "export_id": export_id, "user_column": user_column,
              "missing_as_zero": missing_as_zero, "planned_share": planned_share,
              "outcome_rows": int(len(outcomes)), "unmatched_rows": unmatched, "customers_without_outcome": without}
    return Measurement(result.arms, result.deciles, result.by_offer, result.uplift, result.verdicts,
                       notes + result.warnings, params, result.qini, result.qini_curves)


# ============================================================================== tables
def _summaries(data: pd.DataFrame, keys: list[str], outcome: str) -> pd.DataFrame:
    grouped = data.groupby(keys, sort=True, observed=True)[outcome]
    return grouped.agg(n="count", mean="mean", var="var").reset_index()


def _arms_table(data: pd.DataFrame, control: str, outcomes: list[str], kinds: dict[str, str],
                alpha: float, power: float) -> pd.DataFrame:
    parts = []
    for outcome in outcomes:  # a handful of outcomes; each is vectorised over arms
        s = _summaries(data, [C.ARM], outcome)
        c = s[s[C.ARM] == control].iloc[0]
        t_crit = stats.t.ppf(1 - alpha / 2, np.maximum(s["n"] - 1, 1))
        half = t_crit * np.sqrt(s["var"] / s["n"])
        lifts = compare(s["n"], s["mean"], s["var"], c["n"], c["mean"], c["var"], alpha, power)
        part = pd.DataFrame({
            "outcome": outcome, "kind": kinds[outcome], "arm": s[C.ARM], "is_control": s[C.ARM] == control,
            "n": s["n"].astype(np.int64), "mean": s["mean"], "mean_low": s["mean"] - half, "mean_high": s["mean"] + half,
            **{k: lifts[k] for k in ("lift", "lift_low", "lift_high", "rel_lift", "rel_low", "rel_high", "p_value")},
            "incremental": lifts["lift"] * s["n"], "incremental_low": lifts["lift_low"] * s["n"],
            "incremental_high": lifts["lift_high"] * s["n"],
            "mde": lifts["mde"], "power": lifts["power"], "control_needed": lifts["control_needed"],
        })
        lift_columns = [c for c in part.columns if c not in ("outcome", "kind", "arm", "is_control", "n", "mean", "mean_low", "mean_high")]
        part.loc[part["is_control"], lift_columns] = np.nan
        parts.append(part.sort_values(["is_control", "arm"], kind="stable"))
    table = pd.concat(parts, ignore_index=True)
    table.insert(table.columns.get_loc("p_value") + 1, "p_holm", holm(table["p_value"]))
    return table


def _split_table(data: pd.DataFrame, by: str, control: str, outcomes: list[str], kinds: dict[str, str],
                 alpha: float, power: float) -> pd.DataFrame:
    """Lift of each arm vs control within each value of ``by`` (score decile or offer)."""
    parts = []
    for outcome in outcomes:
        s = _summaries(data, [by, C.ARM], outcome)
        c = s[s[C.ARM] == control].drop(columns=C.ARM).rename(columns={"n": "n_control", "mean": "mean_control", "var": "var_control"})
        t = s[s[C.ARM] != control].rename(columns={"n": "n_treated", "mean": "mean_treated", "var": "var_treated"})
        both = t.merge(c, on=by, how="left")
        lifts = compare(both["n_treated"], both["mean_treated"], both["var_treated"],
                        both["n_control"], both["mean_control"], both["var_control"], alpha, power)
        parts.append(pd.DataFrame({
            "outcome": outcome, "kind": kinds[outcome], "arm": both[C.ARM], by: both[by],
            "n_treated": both["n_treated"].astype(np.int64), "mean_treated": both["mean_treated"],
            "n_control": both["n_control"].fillna(0).astype(np.int64), "mean_control": both["mean_control"],
            **{k: lifts[k] for k in ("lift", "lift_low", "lift_high", "p_value")},
        }))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _uplift(data: pd.DataFrame, control: str, outcomes: list[str], score_bins: int, alpha: float) -> pd.DataFrame:
    """Lift in the top vs the bottom EDGE_SHARE of scores, and the difference with its interval."""
    edge = max(1, int(round(score_bins * EDGE_SHARE)))
    top = data[C.SCORE_DECILE] > score_bins - edge
    bottom = data[C.SCORE_DECILE] <= edge
    rows = []
    z = stats.norm.ppf(1 - alpha / 2)
    for outcome in outcomes:
        results = {}
        for name, mask in (("top", top), ("bottom", bottom)):
            s = _summaries(data[mask], [C.ARM], outcome).set_index(C.ARM)
            if control not in s.index:
                continue
            t = s.drop(index=control)
            results[name] = (t.index, compare(t["n"], t["mean"], t["var"], *s.loc[control, ["n", "mean", "var"]], alpha))
        if len(results) < 2:
            continue
        arms_top, out_top = results["top"]
        arms_bottom, out_bottom = results["bottom"]
        for k, arm in enumerate(arms_top):
            if arm not in arms_bottom:
                continue
            b = list(arms_bottom).index(arm)
            diff = out_top["lift"][k] - out_bottom["lift"][b]
            se = np.hypot(out_top["se"][k], out_bottom["se"][b])
            rows.append({
                "outcome": outcome, "arm": arm, "share": EDGE_SHARE,
                "lift_top": out_top["lift"][k], "lift_top_low": out_top["lift_low"][k], "lift_top_high": out_top["lift_high"][k],
                "lift_bottom": out_bottom["lift"][b], "lift_bottom_low": out_bottom["lift_low"][b],
                "lift_bottom_high": out_bottom["lift_high"][b], "difference": diff,
                "difference_low": diff - z * se, "difference_high": diff + z * se,
                "p_value": float(2 * stats.norm.sf(abs(diff) / se)) if se > 0 else float(diff == 0),
            })
    return pd.DataFrame(rows)


# ============================================================================== input checks
def _arm_labels(values: pd.Series) -> pd.Series:
    text = values.astype("string").str.strip()
    return text.where(text.notna() & (text != ""), None).astype(object)


def _outcome(values: pd.Series, source: str, column: str) -> tuple[pd.Series, Problem | None]:
    """An outcome as floats (true/yes -> 1, false/no -> 0), or the problem with it."""
    if pd.api.types.is_bool_dtype(values):
        return values.astype(np.float64), None
    if pd.api.types.is_numeric_dtype(values):
        parsed = values.astype(np.float64)
    else:
        text = values.astype("string").str.strip().str.lower()
        parsed = pd.to_numeric(text.str.replace(",", "", regex=False), errors="coerce").astype(np.float64)
        parsed = parsed.mask(text.isin(_TRUE).fillna(False), 1.0).mask(text.isin(_FALSE - {""}).fillna(False), 0.0)
    bad = parsed.isna().to_numpy() | ~np.isfinite(parsed.fillna(0).to_numpy())
    if bad.any():
        return parsed, _rows_problem(
            source, column, bad,
            "rows have no number here (empty, text or infinite)" if not pd.api.types.is_numeric_dtype(values) else "rows are empty",
            "Use 0/1 (or yes/no) for conversions and plain numbers for revenue; write 0 where nothing happened.",
        )
    return parsed, None


def _is_binary(values: pd.Series) -> bool:
    return bool(values.isin([0.0, 1.0]).all())


def _rows_problem(source: str, column: str, mask: np.ndarray, message: str, fix: str) -> Problem:
    rows = tuple(int(i) + FIRST_DATA_ROW for i in np.flatnonzero(mask)[:MAX_EXAMPLE_ROWS])
    count = int(mask.sum())
    return Problem(source, column, rows, count, f"{count:,} {message}", fix)


def _did_you_mean(name: str, options: Any) -> str:
    close = difflib.get_close_matches(str(name), [str(o) for o in options], n=1, cutoff=0.5)
    return f" (did you mean '{close[0]}'?)" if close else ""


# ============================================================================== helpers for pages
def score_bins_of(groups: np.ndarray, scores: np.ndarray, n_bins: int = SCORE_BINS) -> np.ndarray:
    """Equal-count score bin 1..n_bins of each row within its group (1 = lowest scores)."""
    frame = pd.DataFrame({"g": groups, "s": scores})
    pct = frame.groupby("g", sort=False)["s"].rank(method="first", pct=True).to_numpy()
    return np.clip(np.ceil(pct * n_bins), 1, n_bins).astype(np.int64)


def guess_arm_column(frame: pd.DataFrame) -> str | None:
    """The column that most likely names the arm: few distinct values, an arm-like name."""
    candidates = [c for c in frame.columns if 2 <= frame[c].nunique(dropna=True) <= 12]
    named = sorted(
        (c for c in candidates if any(w in str(c).lower() for w in _ARM_WORDS)),
        key=lambda c: (str(c).lower().strip() not in _ARM_WORDS, frame[c].nunique(dropna=True)),
    )
    textual = [c for c in candidates if not pd.api.types.is_numeric_dtype(frame[c])]
    return (named or textual or candidates or [None])[0]


def guess_control(values: Sequence[Any]) -> Any:
    """The arm value that most likely is the control (``control``, ``No E-Mail``, ``holdout``...)."""
    labels = [str(v) for v in values]
    for label in labels:
        lowered = label.lower() + " "
        if lowered.strip() in (C.CONTROL, "none", "holdout") or any(lowered.startswith(w) or f" {w}" in lowered for w in _CONTROL_WORDS):
            return label
    return labels[0] if labels else None


def outcome_candidates(frame: pd.DataFrame, exclude: Sequence[str] = ()) -> list[str]:
    """Columns that can be outcomes (numbers or yes/no text; not ids, not the arm), likely ones first.

    Columns named like outcomes (converted, redeemed, visit, revenue, spend, ...) come first, score
    columns last.
    """
    out = []
    for column in frame.columns:
        values = frame[column]
        id_like = values.nunique(dropna=True) > 0.9 * max(len(frame), 1) and not pd.api.types.is_float_dtype(values)
        if column in exclude or id_like:
            continue
        if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            out.append(str(column))
        elif values.astype("string").str.strip().str.lower().isin(_TRUE | _FALSE).all():
            out.append(str(column))

    def rank(name: str) -> int:
        lowered = name.lower()
        if "score" in lowered:
            return 2
        return 0 if any(w in lowered for w in _OUTCOME_WORDS) else 1

    return sorted(out, key=rank)


def hillstrom_path() -> Path | None:
    """The real Hillstrom e-mail test CSV named by ``$PROMOLENS_HILLSTROM``, when that file exists."""
    path = os.environ.get(HILLSTROM_ENV)
    return Path(path) if path and Path(path).is_file() else None


def example_table(name: str) -> tuple[pd.DataFrame, str]:
    """An example results table and the file name to show for it.

    ``"hillstrom"`` is the real e-mail test named by ``$PROMOLENS_HILLSTROM`` (see
    :func:`hillstrom_path`); anything else is the synthetic :func:`example_results`.
    """
    if name == "hillstrom":
        from recsys.data.read import read_table

        path = hillstrom_path()
        if path is None:
            raise FileNotFoundError(f"${HILLSTROM_ENV} does not name a file. Fix: set it to the Hillstrom CSV.")
        return read_table(path, name=path.name), str(path)
    return example_results(), "example_results.csv"


def example_results(n: int = 30_000, seed: int = 7) -> pd.DataFrame:
    """A synthetic e-mail test shaped like Hillstrom's, with a model score that finds uplift.

    Customers are randomised to ``Mens E-Mail``, ``Womens E-Mail`` or ``No E-Mail`` (a third
    each). The base visit rate is about 10% and conversion 0.6% (as in Hillstrom); the e-mails
    add visits and conversions, more for customers with a high ``score`` (planted: the uplift of
    the top score decile is about four times that of the bottom one). Spend is the amount bought
    by converters.
    """
    rng = np.random.default_rng(seed)
    arm = rng.choice(np.array(["Mens E-Mail", "Womens E-Mail", "No E-Mail"], dtype=object), size=n)
    score = rng.beta(2, 5, size=n)
    strength = np.select([arm == "Mens E-Mail", arm == "Womens E-Mail"], [1.0, 0.6], 0.0)
    uplift = strength * (0.2 + 1.6 * score)
    visit = rng.random(n) < 0.085 + 0.05 * score + 0.07 * uplift
    conversion = visit & (rng.random(n) < 0.05 + 0.05 * uplift)
    spend = np.where(conversion, np.round(rng.gamma(2.0, 55.0, size=n), 2), 0.0)
    return pd.DataFrame({
        "customer_id": np.char.add("H", np.arange(1, n + 1).astype(str)).astype(object),
        "segment": arm, "score": score.round(4), "visit": visit.astype(np.int64),
        "conversion": conversion.astype(np.int64), "spend": spend,
    })


def format_report(result: Measurement) -> str:
    """The measurement as plain text (for the command line)."""
    lines: list[str] = []
    for outcome in result.outcomes():
        part = result.arms[result.arms["outcome"] == outcome]
        rate = bool((part["kind"] == "rate").all())
        shown = pd.DataFrame({
            "arm": part["arm"] + np.where(part["is_control"], " (control)", ""),
            "customers": part["n"].map("{:,}".format),
            "rate" if rate else "mean": part["mean"].map("{:.4f}".format),
            "lift": [("" if np.isnan(v) else fmt_lift(v, rate)) for v in part["lift"]],
            f"{1 - result.params.get('alpha', ALPHA):.0%} CI": [("" if np.isnan(lo) else fmt_ci(lo, hi, rate)) for lo, hi in zip(part["lift_low"], part["lift_high"])],
            "relative": [("" if np.isnan(v) else f"{v:+.1%}") for v in part["rel_lift"]],
            "p": [("" if np.isnan(v) else fmt_p(v).replace("p = ", "").replace("p ", "")) for v in part["p_value"]],
            "incremental": [("" if np.isnan(v) else f"{v:,.{0 if rate else 2}f}") for v in part["incremental"]],
        })
        lines += [f"== {outcome} ({'rate' if rate else 'mean per customer'})", shown.to_string(index=False), ""]
    lines += ["Verdict:"] + [f"- {v}" for v in result.verdicts]
    if result.warnings:
        lines += ["", "Warnings:"] + [f"- {w}" for w in result.warnings]
    return "\n".join(lines)
