"""The Segments page's charts, one-pass builders (``go.Figure(data, layout)``): sizes, trend, the RFM grid,
response by segment, the customer map, what sets a segment apart, two segments compared, the silhouette.
No Streamlit here."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from recsys.core.i18n import N_
from recsys.core.i18n import gettext as _
from recsys.insight.rules import column_words
from recsys.charts.style import (
    DEFAULT_SEQUENCE, PALETTE, build_figure, color_map, plot_axes, style_figure, trace_groups,
)


def segment_colors(order: list[str]) -> dict[str, str]:
    """One colour per segment label, stable for a given display order (shared by every segment chart)."""
    palette = PALETTE + px.colors.qualitative.Pastel
    return {label: palette[i % len(palette)] for i, label in enumerate(order)}


def segment_sizes(sizes: pd.DataFrame, order: list[str], title: str = N_("Customers per segment")) -> go.Figure:
    """Horizontal bars of customers per segment (``segment``, ``customers``, ``share``), in display order."""
    frame = sizes.set_index("segment").reindex(order).dropna(subset=["customers"]).reset_index()
    frame = frame.assign(text=frame["share"].map("{:.0%}".format))
    colors = color_map(list(dict.fromkeys([*pd.unique(frame["segment"])])), segment_colors(order))
    hover = "=%{y}<br>" + _("customers") + "=%{x}<br>text=%{text}<extra></extra>"
    data = [{"type": "bar", "x": rows["customers"].to_numpy(), "y": rows["segment"].to_numpy(), "orientation": "h",
             "name": str(label), "legendgroup": str(label), "showlegend": True, "text": rows["text"].to_numpy(),
             "textposition": "auto", "textangle": 0,  # a share that does not fit goes beside its bar, not on its side
             "marker": {"color": colors[label], "pattern": {"shape": ""}}, "hovertemplate": hover,
             "xaxis": "x", "yaxis": "y"} for label, rows in trace_groups(frame, "segment")]
    return build_figure(data, _(title), height=max(260, 26 * len(frame) + 90), barmode="relative", showlegend=False,
                   legend={"tracegroupgap": 0},
                   **plot_axes({"title": {"text": _("customers")}},
                           {"title": {"text": ""}, "categoryorder": "array", "categoryarray": list(reversed(order))}))


def segment_trend(frame: pd.DataFrame, order: list[str], title: str) -> go.Figure:
    """Lines of customers per period and segment (``period``, ``segment``, ``customers``)."""
    if frame.empty:
        return style_figure(go.Figure(), _("No dates in this dataset, so no trend"))
    values = list(dict.fromkeys([*order, *pd.unique(frame["segment"].dropna())]))
    colors = color_map(values, segment_colors(order))
    hover = "=%{x}<br>" + _("customers") + "=%{y}<extra></extra>"
    data = [{"type": "scatter", "x": rows["period"].to_numpy(), "y": rows["customers"].to_numpy(),
             "mode": "lines+markers", "name": str(label), "legendgroup": str(label), "showlegend": True,
             "orientation": "v", "line": {"color": colors[label], "dash": "solid"}, "marker": {"symbol": "circle"},
             "hovertemplate": hover, "xaxis": "x", "yaxis": "y"} for label, rows in trace_groups(frame, "segment", order)]
    return build_figure(data, title, height=360, legend={"tracegroupgap": 0},
                   **plot_axes({"title": {"text": ""}}, {"title": {"text": _("customers")}}))


def rfm_grid(grid: pd.DataFrame) -> go.Figure:
    """Heatmap of customers per recency score x frequency score, each cell named by its RFM segment."""
    counts = grid.pivot(index="r_score", columns="f_score", values="customers").sort_index(ascending=False)
    names = grid.pivot(index="r_score", columns="f_score", values="segment").sort_index(ascending=False)
    text = names.astype(str) + "<br>" + counts.astype(int).map("{:,}".format)
    data = [{"type": "heatmap", "z": counts.to_numpy(), "x": [str(c) for c in counts.columns],
             "y": [str(r) for r in counts.index], "text": text.to_numpy(), "texttemplate": "%{text}",
             "colorscale": "Blues", "showscale": False, "hovertemplate": "R %{y} · F %{x}<br>%{text}<extra></extra>"}]
    return build_figure(data, _("RFM grid: customers per recency x frequency score"), height=420,
                   xaxis={"title": {"text": _("frequency score (5 = most occasions)")}},
                   yaxis={"title": {"text": _("recency score (5 = most recent)")}})


RESPONSE_METRICS = {
    "click_rate": N_("click rate"), "redeem_rate": N_("redeem rate"), "purchase_rate": N_("purchase rate"),
    "value_per_customer": N_("value per customer"),
}


def response_heatmap(frame: pd.DataFrame, column: str, metric: str, order: list[str]) -> go.Figure:
    """Heatmap of one response metric per segment (rows) x offer type (columns), values written in."""
    table = frame.pivot(index="segment", columns=column, values=metric)
    table = table.reindex(index=[s for s in order if s in table.index], columns=list(dict.fromkeys(frame[column])))
    is_rate = metric.endswith("_rate")
    text = table.map(lambda v: "" if pd.isna(v) else (f"{v:.1%}" if is_rate else f"{v:,.1f}"))
    data = [{"type": "heatmap", "z": table.to_numpy(), "x": [str(c) for c in table.columns], "y": list(table.index),
             "text": text.to_numpy(), "texttemplate": "%{text}", "colorscale": "YlGnBu",
             "colorbar": {"title": _(RESPONSE_METRICS.get(metric, metric))},
             "hovertemplate": "%{y} · %{x}: %{text}<extra></extra>"}]
    label = _(RESPONSE_METRICS.get(metric, metric))
    return build_figure(data, _("{metric} by segment and {column}").format(metric=label.capitalize(), column=column_words(column)),
                   height=max(300, 34 * len(table) + 120),
                   xaxis={"title": {"text": column_words(column)}}, yaxis={"autorange": "reversed"})


def customer_map(frame: pd.DataFrame, color: str, order: list[str], title: str) -> go.Figure:
    """Scatter (WebGL) of customers on the 2-D map (``x``, ``y``, ``user_id``), coloured by segment.

    Each point carries its ``user_id`` as custom data, so a lasso or box selection names customers.
    """
    values = list(dict.fromkeys([*order, *pd.unique(frame[color].dropna())]))
    colors = color_map(values, segment_colors(order))
    data = [{"type": "scattergl", "x": rows["x"].to_numpy(), "y": rows["y"].to_numpy(), "mode": "markers",
             "name": str(label), "legendgroup": str(label), "showlegend": True,
             "customdata": rows[["user_id"]].to_numpy(),
             "marker": {"color": colors[label], "opacity": 0.7, "symbol": "circle", "size": 5},
             "hovertemplate": f"={label}<br>user_id=%{{customdata[0]}}<extra></extra>", "xaxis": "x", "yaxis": "y"}
            for label, rows in trace_groups(frame, color, order)]
    return build_figure(data, title, height=520, dragmode="lasso", legend={"tracegroupgap": 0},
                   **plot_axes({"title": None, "showticklabels": False}, {"title": None, "showticklabels": False}))


def segment_lift_bars(frame: pd.DataFrame, title: str) -> go.Figure:
    """Horizontal bars of the lift of trait / offer-type values (1 = like everyone)."""
    if frame.empty:
        return style_figure(go.Figure(), _("{title}: nothing stands out").format(title=title))
    columns = frame["column"].astype(str)
    words = {c: column_words(c) for c in pd.unique(columns)}  # the data's column names, readable in English
    shown = frame.assign(label=columns.map(words) + ": " + frame["value_label"].astype(str))
    shown = shown.sort_values("lift")
    hover = (_("lift vs all customers") + "=%{x}<br>text=%{text}<br>" + _("share") + "=%{customdata[0]:.1%}<br>"
             + _("share of everyone") + "=%{customdata[1]:.1%}<extra></extra>")
    data = [{"type": "bar", "x": shown["lift"].to_numpy(), "y": shown["label"].to_numpy(), "orientation": "h",
             "text": shown["lift"].map("×{:.1f}".format).to_numpy(), "textposition": "auto",
             "customdata": shown[["share", "base_share"]].to_numpy(), "hovertemplate": hover,
             "name": "", "legendgroup": "", "showlegend": False,
             "marker": {"color": PALETTE[4], "pattern": {"shape": ""}}, "xaxis": "x", "yaxis": "y"}]
    vline = {"type": "line", "x0": 1, "x1": 1, "xref": "x", "y0": 0, "y1": 1, "yref": "y domain",
             "line": {"color": "grey", "dash": "dot"}}
    return build_figure(data, title, height=max(220, 30 * len(shown) + 90), barmode="relative", shapes=[vline],
                   legend={"tracegroupgap": 0},
                   **plot_axes({"title": {"text": _("lift vs all customers")}}, {"title": {"text": ""}}))


def segment_comparison(frame: pd.DataFrame, column: str, a: str, b: str) -> go.Figure:
    """Grouped bars: share of each value of ``column`` in segment A, segment B and everyone."""
    everyone = _("everyone")
    frame = frame.assign(who=frame["who"].replace({"everyone": everyone}))
    order = [a, b, everyone]
    colors = color_map(list(dict.fromkeys([*order, *pd.unique(frame["who"].dropna())])),
                        {a: PALETTE[0], b: PALETTE[1], everyone: "#bbbbbb"})
    x_label, y_label = column_words(column), _("share")
    data = [{"type": "bar", "x": rows["value_label"].to_numpy(), "y": rows["share"].to_numpy(), "orientation": "v",
             "name": str(who), "legendgroup": str(who), "offsetgroup": str(who), "alignmentgroup": "True",
             "showlegend": True, "textposition": "auto", "marker": {"color": colors[who], "pattern": {"shape": ""}},
             "hovertemplate": f"={who}<br>{x_label}=%{{x}}<br>{y_label}=%{{y}}<extra></extra>", "xaxis": "x", "yaxis": "y"}
            for who, rows in trace_groups(frame, "who", order)]
    return build_figure(data, _("{column}: {a} vs {b}").format(column=column_words(column).capitalize(), a=a, b=b),
                   barmode="group", legend={"tracegroupgap": 0},
                   **plot_axes({"title": {"text": x_label}}, {"title": {"text": y_label}, "tickformat": ".0%"}))


def silhouette_curve(frame: pd.DataFrame, chosen: int) -> go.Figure:
    """Silhouette score per number of clusters, the chosen k marked."""
    mine = frame[frame["k"] == chosen]
    x_label, y_label = _("clusters"), _("silhouette")
    data = [
        {"type": "scatter", "x": frame["k"].to_numpy(), "y": frame["silhouette"].to_numpy(), "mode": "lines+markers",
         "name": "", "legendgroup": "", "showlegend": False, "orientation": "v",
         "line": {"color": DEFAULT_SEQUENCE[0], "dash": "solid"}, "marker": {"symbol": "circle"},
         "hovertemplate": f"{x_label}=%{{x}}<br>{y_label}=%{{y}}<extra></extra>", "xaxis": "x", "yaxis": "y"},
        {"type": "scatter", "x": mine["k"].to_numpy(), "y": mine["silhouette"].to_numpy(), "mode": "markers",
         "marker": {"size": 14, "color": PALETTE[1]}, "name": _("chosen: {k}").format(k=chosen)},
    ]
    return build_figure(data, _("How well separated are k clusters? (higher is better)"), height=280,
                   legend={"tracegroupgap": 0},
                   **plot_axes({"title": {"text": x_label}, "dtick": 1}, {"title": {"text": y_label}}))
