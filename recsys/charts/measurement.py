"""The Measure page's charts (``recsys.campaign.measure``): each arm's rate or mean, lift over control,
lift by score decile and Qini curves, with their intervals. No Streamlit here."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from recsys.core.i18n import N_
from recsys.core.i18n import gettext as _
from recsys.charts.style import CONTROL_COLOR, PALETTE, style_figure


def _is_rate(frame: pd.DataFrame) -> bool:
    return bool((frame["kind"] == "rate").all()) if "kind" in frame.columns and len(frame) else False


def arm_means(arms: pd.DataFrame, outcome: str) -> go.Figure:
    """Bars of each arm's rate or mean with its confidence interval; the control in grey.

    ``arms`` is ``Measurement.arms``; only the rows of ``outcome`` are drawn.
    """
    part = arms[arms["outcome"] == outcome]
    rate = _is_rate(part)
    # A rate cannot be below 0% or above 100%: a normal-approximation interval is drawn clipped to them.
    low = part["mean_low"].clip(lower=0.0) if rate else part["mean_low"]
    high = part["mean_high"].clip(upper=1.0) if rate else part["mean_high"]
    colors = [CONTROL_COLOR if c else PALETTE[i % len(PALETTE)] for i, c in enumerate(part["is_control"])]
    fig = go.Figure(go.Bar(
        x=part["arm"], y=part["mean"], marker_color=colors,
        error_y={"type": "data", "array": high - part["mean"],
                 "arrayminus": part["mean"] - low, "thickness": 1.5},
        text=part["mean"].map("{:.2%}".format if rate else "{:,.4f}".format), textposition="outside",
        customdata=part[["n"]],
        hovertemplate="%{x}<br>%{y:.4f}<br>" + _("%{customdata[0]:,} customers") + "<extra></extra>",
    ))
    fig.update_layout(yaxis_tickformat=".1%" if rate else None, showlegend=False)
    fig.update_yaxes(title=(_("{outcome} rate") if rate else _("{outcome} per customer")).format(outcome=outcome))
    return style_figure(fig, (_("{outcome}: rate per arm (bars: 95% interval)") if rate
                        else _("{outcome}: mean per arm (bars: 95% interval)")).format(outcome=outcome))


def lift_bars(arms: pd.DataFrame, outcome: str) -> go.Figure:
    """Lift of each treated arm over the control with its confidence interval (0 = no effect)."""
    part = arms[(arms["outcome"] == outcome) & ~arms["is_control"]]
    rate = _is_rate(part)
    scale = 100.0 if rate else 1.0
    significant = part["lift_low"].gt(0) | part["lift_high"].lt(0)
    fig = go.Figure(go.Bar(
        x=part["arm"], y=part["lift"] * scale,
        marker_color=[PALETTE[0] if s else CONTROL_COLOR for s in significant],
        error_y={"type": "data", "array": (part["lift_high"] - part["lift"]) * scale,
                 "arrayminus": (part["lift"] - part["lift_low"]) * scale, "thickness": 1.5},
        hovertemplate="%{x}<br>" + (_("lift %{y:.3f} points") if rate else _("lift %{y:.3f}")) + "<extra></extra>",
    ))
    fig.add_hline(y=0, line_color="black", line_width=1)
    fig.update_yaxes(title=_("lift (percentage points)") if rate else _("lift per customer"))
    return style_figure(fig, _("{outcome}: lift over control (grey = could be chance)").format(outcome=outcome))


def lift_by_decile(deciles: pd.DataFrame, outcome: str) -> go.Figure:
    """Lift over control per score decile, one line per arm, with confidence intervals.

    A model that finds customers who respond *because* of the coupon shows higher lift on the right.
    """
    part = deciles[deciles["outcome"] == outcome]
    rate = _is_rate(part)
    scale = 100.0 if rate else 1.0
    fig = go.Figure()
    for i, (arm, rows) in enumerate(part.groupby("arm", sort=False)):
        fig.add_trace(go.Scatter(
            x=rows["score_decile"], y=rows["lift"] * scale, mode="lines+markers", name=str(arm),
            line={"color": PALETTE[i % len(PALETTE)]},
            error_y={"type": "data", "array": (rows["lift_high"] - rows["lift"]) * scale,
                     "arrayminus": (rows["lift"] - rows["lift_low"]) * scale, "thickness": 1},
        ))
    fig.add_hline(y=0, line_color="black", line_width=1)
    fig.update_xaxes(title=_("score decile (10 = highest scores)"), dtick=1)
    fig.update_yaxes(title=_("lift (percentage points)") if rate else _("lift per customer"))
    return style_figure(fig, _("{outcome}: lift by score decile").format(outcome=outcome), height=360)


def qini_curve(curves: pd.DataFrame, title: str) -> go.Figure:
    """Qini curves (``fraction``, ``qini`` with ``qini_low``/``qini_high`` bands, one per ``score``) and the
    random-targeting line: incremental conversions per customer gained by treating the top share."""
    fig = go.Figure()
    for i, (name, rows) in enumerate(curves.groupby("score", sort=False)):
        color = "grey" if name == "random targeting" else PALETTE[i % len(PALETTE)]
        if rows["qini_low"].notna().any():
            fig.add_trace(go.Scatter(x=list(rows["fraction"] * 100) + list(rows["fraction"][::-1] * 100),
                                     y=list(rows["qini_high"]) + list(rows["qini_low"][::-1]), fill="toself",
                                     line={"width": 0}, fillcolor=color, opacity=0.15, showlegend=False, hoverinfo="skip"))
        fig.add_trace(go.Scatter(x=rows["fraction"] * 100, y=rows["qini"], mode="lines",
                                 name=_(QINI_NAMES[name]) if name in QINI_NAMES else str(name),
                                 line={"color": color, "dash": "dash" if name == "random targeting" else "solid"}))
    fig.update_xaxes(title=_("share of customers targeted, best scores first (%)"))
    fig.update_yaxes(title=_("incremental outcome per customer"))
    return style_figure(fig, title, height=360)


#: The curves of a Qini chart (score columns keep their own names).
QINI_NAMES = {"random targeting": N_("random targeting"), "random": N_("random"), "score": N_("score")}
