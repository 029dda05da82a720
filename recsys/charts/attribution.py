"""The Recommendations page's charts (``recsys.insight.attribution``): why this score (a waterfall), who an
offer is for (attributions per customer trait) and attribution heatmaps. No Streamlit here."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from recsys.core.i18n import N_
from recsys.core.i18n import gettext as _
from recsys.insight.attribution import ATTRIBUTION, CONTRIBUTOR, SIDE
from recsys.insight.drivers import CUSTOMERS, MEAN
from recsys.charts.style import style_figure


UP_COLOR, DOWN_COLOR, NEUTRAL_COLOR = "#2e7d32", "#c62828", "#546e7a"


def attribution_waterfall(
    parts: pd.DataFrame, base: float, score: float, base_label: str, title: str = N_("Why this score"),
    chance: bool = False, share: bool = False,
) -> go.Figure:
    """Horizontal waterfall from the base to the score: one bar per contributor (green up, red down).

    ``parts`` is ``explain.contributions(...)`` (``contributor``, ``side``, ``attribution``), largest
    first, "other" last; the bars start at ``base`` and end at ``score`` (dashed lines mark both).
    With ``chance``, ``base``, ``score`` and the attributions are probabilities and their changes
    (:func:`recsys.insight.chance.in_chance_points`), drawn in percent and percentage points; with
    ``share``, shares of the gap between the score and its base (:func:`recsys.insight.chance.in_gap_shares`:
    ``base`` 0, ``score`` +-1), drawn in percent of that gap.
    """
    scale = 100.0 if chance or share else 1.0
    values = parts[ATTRIBUTION].to_numpy(float) * scale
    base, score = base * scale, score * scale
    labels = [f"{c} ({_(s)})" if s else str(c) for c, s in zip(parts[CONTRIBUTOR], parts[SIDE])]
    point = _("pt")
    text = ([f"{v:+.1f} {point}" for v in values] if chance else [f"{v:+.0f}%" for v in values] if share
            else [f"{v:+.3f}" for v in values])
    hover = "%{x:+.2f} " + point if chance else "%{x:+.1f}%" if share else "%{x:+.4f}"
    fig = go.Figure(go.Waterfall(
        orientation="h", base=base, measure=["relative"] * len(values), y=labels, x=values,
        text=text, textposition="outside",
        cliponaxis=False,
        increasing={"marker": {"color": UP_COLOR}}, decreasing={"marker": {"color": DOWN_COLOR}},
        connector={"line": {"color": "#cfd8dc", "width": 1}},
        hovertemplate="%{y}<br>" + hover + "<extra></extra>",
    ))
    ends = base + pd.Series(values).cumsum()
    low, high = min(base, score, ends.min()), max(base, score, ends.max())
    pad = 0.25 * (high - low or 1.0)
    shown = (lambda x: f"{x:.1f}%") if chance else (lambda x: f"{x:.0f}%") if share else (lambda x: f"{x:.3f}")
    fig.add_vline(x=base, line_dash="dot", line_color=NEUTRAL_COLOR,
                  annotation_text=f"{base_label}: {shown(base)}", annotation_position="top left")
    end = (_("chance {chance}").format(chance=shown(score)) if chance
           else _("this offer: {share}").format(share=shown(score)) if share
           else _("score {score}").format(score=shown(score)))
    fig.add_vline(x=score, line_dash="dash", line_color="black", annotation_text=end, annotation_position="top right")
    fig.update_yaxes(autorange="reversed", title=None)
    axis = (_("chance of redeeming (%)") if chance else _("share of the gap between this offer and its base (%)")
            if share else _("score"))
    fig.update_xaxes(range=[max(low - pad, 0.0) if chance else low - pad, high + pad], title=axis, zeroline=False)
    return style_figure(fig, _(title), height=max(280, 36 * len(values) + 120))


def attribution_spread(spread: pd.DataFrame, summary: pd.DataFrame, title: str, unit: str | None = None) -> go.Figure:
    """Attributions per customer trait: a bar at the mean, and dots where the trait's customers sit.

    ``spread`` (``contributor``, ``attribution``, ``customers``) is ``OfferDrivers.spread()``: its customers
    binned, one dot per bin sized by its share of the trait's customers (hover: how many). ``summary``
    (``contributor``, ``customers``, ``mean``) is ``OfferDrivers.summary()``: it orders the rows (strongest lift
    on top, green lifts, red holds back) and labels them with the number of customers. A bilinear model gives
    every customer with the same single-valued trait the same value for one offer, so those sit in one dot on
    the bar's end; the customers' own history spreads. One trace of a few hundred points whatever the number
    of customers (a dot per customer sent ~230 KB of JSON for 20,000 customers). ``unit`` as for
    :func:`attribution_heatmap`: None for raw score units, ``"points"`` or ``"share"`` for fractions drawn in percent.
    """
    scale = 1.0 if unit is None else 100.0
    text, hover, axis = {None: ("{:+.3f}", "%{x:+.4f}", _("lift of this offer's score (attribution)")),
                         "points": ("{:+.2f} " + _("pt"), "%{x:+.3f} " + _("pt"),
                                    _("what it adds to this customer's chance of redeeming it (percentage points)")),
                         "share": ("{:+.0f}%", "%{x:+.1f}%",
                                   _("share of how far this offer stands from the customer's base (%)"))}[unit]
    order = summary.sort_values(MEAN, ascending=False)
    names = {c: f"{c}  ({n:,})" for c, n in zip(order[CONTRIBUTOR], order[CUSTOMERS])}
    rows = [names[c] for c in order[CONTRIBUTOR]]
    fig = go.Figure(go.Bar(
        x=order[MEAN] * scale, y=rows, orientation="h", name=_("mean lift"),
        marker_color=[UP_COLOR if m > 0 else DOWN_COLOR for m in order[MEAN]], opacity=0.75,
        text=[text.format(m) for m in order[MEAN] * scale], textposition="outside", cliponaxis=False,
        hovertemplate="%{y}<br>" + _("mean") + " " + hover + "<extra></extra>",
    ))
    counts = spread[CUSTOMERS].to_numpy(np.float64)
    share = counts / np.maximum(spread.groupby(CONTRIBUTOR)[CUSTOMERS].transform("sum").to_numpy(np.float64), 1.0)
    fig.add_trace(go.Scatter(
        x=spread[ATTRIBUTION].to_numpy(np.float64) * scale, y=spread[CONTRIBUTOR].map(names).tolist(), mode="markers",
        name=_("customers"), customdata=counts.astype(np.int64),
        marker={"size": np.round(3 + 11 * np.sqrt(share), 1), "color": "#263238", "opacity": 0.45},
        hovertemplate="%{y}<br>" + hover + ": " + _("{n} customers").format(n="%{customdata:,}") + "<extra></extra>",
    ))
    fig.add_vline(x=0, line_color=NEUTRAL_COLOR, line_width=1)
    fig.update_yaxes(categoryorder="array", categoryarray=rows, autorange="reversed", title=None)
    fig.update_xaxes(title=axis)
    return style_figure(fig, title, height=max(320, 26 * len(order) + 130))


def attribution_heatmap(matrix: pd.DataFrame, title: str, x_title: str = "", y_title: str = "",
                        unit: str | None = None) -> go.Figure:
    """Diverging heatmap of attributions (red pushes down, green up), values written in the cells.

    ``matrix``: rows and columns are labels, cells are attributions (e.g. facts x listed offers,
    or a pair's customer facts x offer facts). ``unit``: None for raw score units, else the cells are
    fractions drawn in percent: ``"points"`` (percentage points of a chance) or ``"share"`` (percent of
    each offer's gap to its base).
    """
    scale = 1.0 if unit is None else 100.0
    z = matrix.to_numpy(float) * scale
    limit = float(abs(z).max()) if z.size else 1.0
    cell, hover, bar = {None: ("{:+.2f}", "%{z:+.4f}", _("lift")),
                        "points": ("{:+.1f}", "%{z:+.2f} " + _("pt"), _("pt")),
                        "share": ("{:+.0f}%", "%{z:+.1f}%", _("% of gap"))}[unit]
    fig = go.Figure(go.Heatmap(
        z=z, x=[_short(c) for c in matrix.columns], y=[_short(i) for i in matrix.index], zmid=0,
        zmin=-limit, zmax=limit, colorscale=[[0, DOWN_COLOR], [0.5, "#f5f5f5"], [1, UP_COLOR]],
        text=[[cell.format(v) for v in row] for row in z], texttemplate="%{text}", textfont={"size": 10},
        hovertemplate="%{y}<br>%{x}<br>" + hover + "<extra></extra>", colorbar={"title": bar},
    ))
    fig.update_yaxes(autorange="reversed", title=y_title or None)
    fig.update_xaxes(title=x_title or None, tickangle=-30)
    longest = max((len(_short(c)) for c in matrix.columns), default=0)
    return style_figure(fig, title, height=max(300, 30 * len(matrix.index) + 120 + 5 * longest))


def _short(label: object, width: int = 40) -> str:
    """A tick label cut to ``width`` characters (hover text keeps the whole label)."""
    text = str(label)
    return text if len(text) <= width else text[: width - 1] + "…"
