"""The words of a measurement: one plain sentence per arm and outcome (the lift, its interval, whether it
could be chance), the warnings of an under-powered test and the uplift-by-score verdicts; the numbers they
quote, formatted. Written in the current language (``recsys.core.i18n``); :mod:`recsys.campaign.measure`
computes the figures and calls :func:`verdicts`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from recsys.core.i18n import N_
from recsys.core.i18n import gettext as _

_EXTRA = {(True, True): N_("about {n} more customers counted as '{outcome}'"),
          (True, False): N_("about {n} fewer customers counted as '{outcome}'"),
          (False, True): N_("about {n} more {outcome} in total"), (False, False): N_("about {n} fewer {outcome} in total")}
_RAISED = N_("{arm} raised {what}: {change}. A difference this large is unlikely to be chance ({p}). That is {extra} "
             "among {n} customers.")
_LOWERED = N_("{arm} lowered {what}: {change}. A difference this large is unlikely to be chance ({p}). That is {extra} "
              "among {n} customers.")


def verdicts(arms: pd.DataFrame, uplift: pd.DataFrame | None, alpha: float, power: float) -> list[str]:
    """Add a ``verdict`` column to ``arms`` (treated rows) and ``uplift``; return the warnings."""
    warnings: list[str] = []
    treated = arms[~arms["is_control"]]
    controls = arms[arms["is_control"]].set_index("outcome")
    texts = []
    for row in treated.itertuples(index=False):  # one sentence per (outcome, arm): a handful
        c = controls.loc[row.outcome]
        rate = row.kind == "rate"
        what = (_("the {outcome} rate") if rate else _("{outcome} per customer")).format(outcome=row.outcome)
        ci = _("{level} CI {interval}").format(level=f"{1 - alpha:.0%}", interval=fmt_ci(row.lift_low, row.lift_high, rate))
        rel = f", {row.rel_lift:+.1%}" if np.isfinite(row.rel_lift) else ""
        change = _("{mean} vs {control} in the control group ({lift}{relative}; {ci})").format(
            mean=fmt(row.mean, rate), control=fmt(c["mean"], rate), lift=fmt_lift(row.lift, rate), relative=rel, ci=ci)
        extra = _(_EXTRA[rate, row.incremental >= 0]).format(
            n=f"{abs(row.incremental):,.0f}" if rate else f"{abs(row.incremental):,.2f}", outcome=row.outcome)
        if row.p_value < alpha:
            text = _(_RAISED if row.lift > 0 else _LOWERED).format(
                arm=row.arm, what=what, change=change, p=fmt_p(row.p_value), extra=extra, n=f"{row.n:,}")
            if row.p_holm >= alpha:
                text += _(" Note: with this many comparisons (Holm adjustment) it is no longer clearly significant.")
        else:
            text = _("We cannot tell whether {arm} changed {what}: {change}. The interval includes no change ({p}).").format(
                arm=row.arm, what=what, change=change, p=fmt_p(row.p_value))
            if row.power < power:
                needed = row.control_needed
                more = (_(" About {n} control customers would be needed to detect a lift this size.").format(
                    n=f"{needed:,.0f}") if np.isfinite(needed)
                        else _(" More customers in both groups would be needed to detect a lift this size."))
                warnings.append(_(
                    "{arm}, {outcome}: the control group ({n}) is too small to detect the observed effect: the smallest "
                    "lift this test detects reliably ({power} power) is {mde}, the observed lift is {lift} "
                    "(power {observed_power}).").format(
                        arm=row.arm, outcome=row.outcome, n=f"{int(c['n']):,}", power=f"{power:.0%}",
                        mde=fmt_lift(row.mde, rate), lift=fmt_lift(row.lift, rate), observed_power=f"{row.power:.0%}")
                    + more)
        texts.append(text)
    arms["verdict"] = None
    arms.loc[treated.index, "verdict"] = texts
    if uplift is not None and len(uplift):
        texts = []
        for row in uplift.itertuples(index=False):
            rate = bool((arms.loc[arms["outcome"] == row.outcome, "kind"] == "rate").any())
            share = f"{row.share:.0%}"
            base = _("{arm}, {outcome}: lift {top} in the top {share} of scores vs {bottom} in the bottom {share} "
                     "({p})").format(arm=row.arm, outcome=row.outcome, top=fmt_lift(row.lift_top, rate), share=share,
                                     bottom=fmt_lift(row.lift_bottom, rate), p=fmt_p(row.p_value))
            if row.p_value < alpha and row.difference > 0:
                texts.append(base + _(": the model finds customers who respond because of the coupon."))
            elif row.p_value < alpha:
                texts.append(base + _(": high scores respond *less* to the coupon; the model finds people who would "
                                      "buy anyway."))
            else:
                texts.append(base + _(": no clear difference, so we cannot tell whether high scores respond more "
                                      "because of the coupon."))
        uplift["verdict"] = texts
    return warnings


def fmt(value: float, rate: bool) -> str:
    return f"{value:.2%}" if rate else f"{value:,.4f}"


def fmt_lift(value: float, rate: bool) -> str:
    if not np.isfinite(value):
        return _("n/a")
    return _("{value} points").format(value=f"{value * 100:+.2f}") if rate else f"{value:+,.4f}"


def fmt_ci(low: float, high: float, rate: bool) -> str:
    if rate:
        return _("{low} to {high} points").format(low=f"{low * 100:+.2f}", high=f"{high * 100:+.2f}")
    return _("{low} to {high}").format(low=f"{low:+,.4f}", high=f"{high:+,.4f}")


def fmt_p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


__all__ = ["verdicts", "fmt", "fmt_lift", "fmt_ci", "fmt_p"]
