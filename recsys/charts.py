"""Plotly figure builders: pure functions, data in, figure out. No Streamlit here."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import plotly.io as pio

from recsys.core.i18n import N_
from recsys.core.i18n import gettext as _
from recsys.insight.rules import column_words
from recsys.core.words import NAME_WORDS, event_word, metric_label
from recsys.insight.attribution import ATTRIBUTION, COLUMN, CONTRIBUTOR, SIDE
from recsys.insight.drivers import CUSTOMERS, MEAN

#: One palette for the whole app, so an event type has the same colour on every chart.
PALETTE = px.colors.qualitative.Safe
#: The trace types these charts draw (px.line / px.scatter draw scatter or scattergl, px.strip a box).
TRACE_TYPES = ("bar", "box", "heatmap", "histogram", "scatter", "scattergl", "waterfall")
#: Plotly's ``plotly_white`` with its defaults for the trace types above only (its layout as it is), so a
#: figure looks exactly the same. Every figure holds its own copy of its template, validated again at each
#: copy: the whole ``plotly_white`` (defaults for 24 trace types) costs about 15 ms per copy and a figure
#: took two (the default template at creation, then this one), a third of building a small chart.
TEMPLATE = "promolens_white"


def _register_template() -> None:
    full = pio.templates["plotly_white"].to_plotly_json()
    pio.templates[TEMPLATE] = go.layout.Template(
        layout=full["layout"], data={k: v for k, v in full["data"].items() if k in TRACE_TYPES})


_register_template()


def use_template_by_default() -> None:
    """Make :data:`TEMPLATE` plotly's default in this process (the app calls it once): figures then get it
    once, at creation, instead of plotly's default first and this one again in :func:`_style`."""
    pio.templates.default = TEMPLATE
#: Fixed colours per event type so an event looks the same on every chart.
EVENT_COLORS = {
    "impression": "#b0bec5", "view": "#90caf9", "click": "#1e88e5", "redeem": "#fb8c00",
    "purchase": "#2e7d32", "interaction": "#6a1b9a",
}


def _event_colors(events: pd.Series) -> dict[str, str]:
    others = iter(PALETTE)
    return {e: EVENT_COLORS.get(e) or next(others) for e in pd.unique(events)}


#: Model names in legends (the colour maps are keyed by the canonical name).
MODEL_NAMES = {"hybrid": N_("hybrid"), "collaborative": N_("collaborative"), "popularity": N_("popularity"),
               "random": N_("random")}
#: Training phases of a learning curve.
PHASES = {"early_stopping": N_("early stopping"), "refit": N_("refit"), "fit": N_("fit")}
PERIODS = {"day": N_("day"), "week": N_("week"), "month": N_("month")}


def model_words(name: object) -> str:
    """A model's name in the current language (names outside ``core.words.NAME_WORDS`` stay as they are)."""
    text = str(name)
    if text in MODEL_NAMES:
        return _(MODEL_NAMES[text])
    return _(text) if text in NAME_WORDS else text


def _translated_colors(colors: dict[str, str], words: dict[str, str]) -> dict[str, str]:
    """A colour map keyed by the translated names (``words``: canonical -> shown)."""
    return {words.get(k, k): v for k, v in colors.items()}
def _events_in_words(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    """``frame`` with its ``event`` column in the current language, and the event colours by those words."""
    word = {e: event_word(e) for e in pd.unique(frame["event"])}
    colors = {word[e]: c for e, c in _event_colors(frame["event"]).items()}
    return frame.assign(event=frame["event"].map(word)), colors


#: Right margin (px) that holds the vertical mode bar.
MODEBAR_MARGIN = 36


#: Titles longer than this many characters are broken onto two lines (half-width charts at 1280 px cut them).
TITLE_WRAP = 52


def wrap_title(title: str, width: int = TITLE_WRAP) -> str:
    """``title`` on two lines (``<br>`` at the last space before ``width``) when it is longer than ``width``.

    >>> wrap_title("Who is offered 30-80% discounts, by age band (red: below four-fifths)")
    'Who is offered 30-80% discounts, by age band (red:<br>below four-fifths)'
    """
    if len(title) <= width or "<br>" in title:
        return title
    cut = title.rfind(" ", 0, width)
    return title if cut <= 0 else title[:cut] + "<br>" + title[cut + 1:]


def _style(fig: go.Figure, title: str, height: int = 340) -> go.Figure:
    title = wrap_title(title)
    # the template only when the figure did not get it at creation (see use_template_by_default)
    template = {} if pio.templates.default == TEMPLATE else {"template": TEMPLATE}
    fig.update_layout(
        title={"text": title, "x": 0, "xanchor": "left", "font": {"size": 15}},
        height=height, **template,
        margin={"l": 10, "r": MODEBAR_MARGIN, "t": 65 if "<br>" in title else 45, "b": 10},
        legend={"orientation": "h", "y": -0.18, "title": None},
        # The mode bar (zoom, download) stands vertically in the right margin, off the title on top.
        modebar={"orientation": "v", "bgcolor": "rgba(255,255,255,0)"},
    )
    return fig


def _layout(title: str, height: int = 340, **layout: object) -> dict:
    """The layout :func:`_style` gives, with ``layout`` merged in, for a figure built in one pass.

    ``go.Figure(data=[...], layout=_layout(...))`` validates everything once; a ``plotly.express``
    figure styled afterwards walks its properties again at every ``update_*`` call (0.05-0.2 s per chart).
    """
    title = wrap_title(title)
    legend = {"orientation": "h", "y": -0.18, "title": None, **layout.pop("legend", {})}  # type: ignore[dict-item]
    template = {} if pio.templates.default == TEMPLATE else {"template": TEMPLATE}
    return {
        "title": {"text": title, "x": 0, "xanchor": "left", "font": {"size": 15}},
        "height": height, **template,
        "margin": {"l": 10, "r": MODEBAR_MARGIN, "t": 65 if "<br>" in title else 45, "b": 10},
        "legend": legend, "modebar": {"orientation": "v", "bgcolor": "rgba(255,255,255,0)"},
        **layout,
    }


def _figure(data: list[dict], title: str, height: int = 340, **layout: object) -> go.Figure:
    """A styled figure in one pass: traces given as dicts (with their ``type``), the layout of :func:`_layout`."""
    return go.Figure(data=data, layout=_layout(title, height, **layout))


#: The colours plotly.express gives traces that no colour map names: the template's colourway.
DEFAULT_SEQUENCE = list(pio.templates["plotly_white"].layout.colorway)


def _groups(frame: pd.DataFrame, column: str, order: list | None = None) -> list[tuple[object, pd.DataFrame]]:
    """``frame``'s rows per value of ``column``: values of ``order`` first (those present), then the others in
    order of appearance (as ``plotly.express`` splits traces); missing values are left out."""
    present = list(pd.unique(frame[column].dropna()))
    ordered = list(dict.fromkeys([*(order or []), *present]))
    parts = dict(tuple(frame.groupby(column, sort=False, dropna=True)))
    return [(value, parts[value]) for value in ordered if value in parts]


def _color_map(values: list, colors: dict | None = None, sequence: list[str] = DEFAULT_SEQUENCE) -> dict:
    """``colors`` completed for ``values`` as ``plotly.express`` does: a value it does not name takes the
    sequence's colour at the number of colours known so far."""
    out = dict(colors or {})
    for value in values:
        if value not in out:
            out[value] = sequence[len(out) % len(sequence)]
    return out


def _axes(x: dict | None = None, y: dict | None = None) -> dict:
    """A single-plot layout's two axes as ``plotly.express`` sets them, with ``x`` / ``y`` on top."""
    return {"xaxis": {"anchor": "y", "domain": [0.0, 1.0], **(x or {})},
            "yaxis": {"anchor": "x", "domain": [0.0, 1.0], **(y or {})}}


#: Periods of :func:`events_over_time` (translated in its title).
PERIOD_WORDS = [N_("day"), N_("week"), N_("month")]


def events_over_time(frame: pd.DataFrame, period: str = "week") -> go.Figure:
    """One small line chart per event type (own y scale, so rare events stay readable).

    Incomplete first/last periods (``complete`` False) are left out and the title says so.
    """
    frame, colors = _events_in_words(frame)
    shown = frame[frame["complete"]] if "complete" in frame.columns else frame
    dropped = len(frame) > len(shown)
    fig = px.line(
        shown, x="period", y="rows", color="event", facet_row="event", markers=False,
        color_discrete_map=colors, labels={"period": "", "rows": ""},
        category_orders={"event": list(frame.groupby("event")["rows"].sum().sort_values(ascending=False).index)},
    )
    fig.update_yaxes(matches=None, rangemode="tozero", title=None)
    fig.for_each_annotation(lambda a: a.update(text=a.text.split("=")[-1], textangle=0, x=0.01, xanchor="left", yanchor="top"))
    fig.update_layout(showlegend=False)
    title = _("Events per {period}").format(period=_(PERIODS[period]) if period in PERIODS else period) + (
        _(" (incomplete first/last periods left out)") if dropped else "")
    return _style(fig, title, height=max(300, 110 * frame["event"].nunique() + 60))


def event_mix(frame: pd.DataFrame) -> go.Figure:
    """Horizontal bars of rows per event type, with the share of all rows."""
    frame, colors = _events_in_words(frame.assign(share=frame["rows"] / frame["rows"].sum()))
    fig = px.bar(
        frame.sort_values("rows"), x="rows", y="event", orientation="h", color="event",
        color_discrete_map=colors, text=frame.sort_values("rows")["share"].map("{:.0%}".format),
        labels={"rows": _("events"), "event": ""},
    )
    fig.update_layout(showlegend=False)
    return _style(fig, _("Event mix"))


def top_items(frame: pd.DataFrame, noun: str = N_("offers")) -> go.Figure:
    """Horizontal bars of the most popular items by customers reached."""
    ordered = frame.sort_values("customers")
    fig = px.bar(
        ordered, x="customers", y="label", orientation="h", hover_data=["item_id", "rows", "revenue"],
        labels={"customers": _("customers who interacted"), "label": "", "rows": _("rows"), "revenue": _("revenue")},
        color_discrete_sequence=PALETTE[1:],
    )
    return _style(fig, _("Top {n} {noun}").format(n=len(frame), noun=_(noun)), height=max(340, 22 * len(frame) + 80))


def activity_distribution(frame: pd.DataFrame) -> go.Figure:
    """Bars of customers per activity bucket."""
    x = frame.columns[0]
    fig = px.bar(frame, x=x, y="customers", color_discrete_sequence=PALETTE[2:],
                 labels={x: _("interactions per customer"), "customers": _("customers")})
    return _style(fig, _("How active are customers?"))


def users_by_column(frame: pd.DataFrame) -> go.Figure:
    """Bars of customers per value of one customer column."""
    column = frame.columns[0]
    ordered = frame.sort_values("customers")
    fig = px.bar(
        ordered, x="customers", y=column, orientation="h", color_discrete_sequence=PALETTE[3:],
        labels={column: "", "customers": _("customers")},
    )
    return _style(fig, _("Customers per {column}").format(column=column_words(column)), height=max(300, 24 * len(frame) + 80))


def cleaning_report(frame: pd.DataFrame) -> go.Figure:
    """Bars of rows affected per cleaning step (from ``CleaningReport.to_frame``)."""
    shown = frame[frame["count"] > 0]
    shown = shown.assign(table=shown["table"].astype(str).map(lambda t: _(TABLE_NAMES[t]) if t in TABLE_NAMES else t))
    fig = px.bar(
        shown.sort_values("count"), x="count", y="name", color="table", orientation="h",
        color_discrete_sequence=PALETTE, labels={"count": _("rows"), "name": "", "table": ""},
    )
    return _style(fig, _("What cleaning changed"), height=max(260, 28 * len(shown) + 90))


#: The data's tables in legends.
TABLE_NAMES = {"interactions": N_("interactions"), "users": N_("users"), "items": N_("items")}


MODEL_COLORS = {"hybrid": "#1f77b4", "collaborative": "#9467bd", "popularity": "#ff7f0e", "random": "#7f7f7f"}


def model_comparison(metrics: pd.DataFrame, names: list[str]) -> go.Figure:
    """Grouped bars: each metric (``names``) for every model (rows of ``metrics``)."""
    long = (
        metrics[[n for n in names if n in metrics.columns]]
        .rename_axis("model").reset_index()
        .melt(id_vars="model", var_name="metric", value_name="value")
    )
    long["model"] = long["model"].map(model_words)
    long["metric"] = long["metric"].map(metric_label)
    fig = px.bar(
        long, x="metric", y="value", color="model", barmode="group", text=long["value"].map("{:.3f}".format),
        color_discrete_map=_translated_colors(MODEL_COLORS, {m: model_words(m) for m in MODEL_COLORS}),
        labels={"metric": "", "value": "", "model": ""},
    )
    fig.update_traces(textposition="outside", cliponaxis=False)
    return _style(fig, _("The model against the baselines (higher is better)"), height=380)


def freshness_bars(report: dict, k: int) -> go.Figure:
    """precision@k of the model and of 'most popular': on the test split at training time and on
    the events that arrived since (a :meth:`recsys.workspace.update.Freshness.to_dict`)."""
    then, since, this, popular = (_("on its test split, at training"), _("on the events since"), _("this model"),
                                  _("popularity"))
    rows = [
        (then, this, report.get("precision_at_training")),
        (then, popular, report.get("popularity_precision_at_training")),
        (since, this, report.get("precision_new")),
        (since, popular, report.get("popularity_precision_new")),
    ]
    frame = pd.DataFrame(rows, columns=["when", "model", "value"]).dropna()
    names = {this: "hybrid", popular: "popularity"}
    fig = px.bar(
        frame, x="when", y="value", color="model", barmode="group", text=frame["value"].map("{:.3f}".format),
        color_discrete_map={m: MODEL_COLORS.get(names[m], "#1e88e5") for m in names},
        labels={"when": "", "value": metric_label(f"precision@{k}"), "model": ""},
    )
    fig.update_traces(textposition="outside", cliponaxis=False)
    return _style(fig, _("Still ahead of 'most popular'? {metric}").format(metric=metric_label(f"precision@{k}")),
                  height=340)


def epoch_curve(epochs: pd.DataFrame, metric: str) -> go.Figure:
    """Validation metric per epoch, one line per model and phase."""
    frame = epochs.dropna(subset=[metric]) if metric in epochs.columns else epochs.iloc[0:0]
    if frame.empty:
        return _style(go.Figure(), _("No validation curve (early stopping was off)"))
    phases = frame["phase"].astype(str).map(lambda p: _(PHASES[p]) if p in PHASES else p.replace("_", " "))
    label = frame["model"].map(model_words) + " (" + phases + ")"
    shown = metric_label(metric)
    fig = px.line(
        frame.assign(line=label), x="epoch", y=metric, color="line", markers=True,
        labels={"epoch": _("epoch"), metric: _("validation {metric}").format(metric=shown), "line": ""},
    )
    return _style(fig, _("Learning curve: validation {metric} per epoch").format(metric=shown))


def metric_by_group(frame: pd.DataFrame, column: str, metric: str) -> go.Figure:
    """Bars of a per-user metric averaged per customer group, per model."""
    frame = frame.assign(model=frame["model"].map(model_words))
    fig = px.bar(
        frame, x=column, y="mean", color="model", barmode="group", hover_data=["count"],
        color_discrete_map=_translated_colors(MODEL_COLORS, {m: model_words(m) for m in MODEL_COLORS}),
        labels={"mean": metric_label(metric), column: column_words(column), "model": "", "count": _("customers")},
    )
    return _style(fig, _("{metric} by {column}").format(metric=metric_label(metric), column=column_words(column)))


# ------------------------------------------------------------------ measurement (recsys.campaign.measure)
CONTROL_COLOR = "#9E9E9E"


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
    return _style(fig, (_("{outcome}: rate per arm (bars: 95% interval)") if rate
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
    return _style(fig, _("{outcome}: lift over control (grey = could be chance)").format(outcome=outcome))


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
    return _style(fig, _("{outcome}: lift by score decile").format(outcome=outcome), height=360)


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
    return _style(fig, title, height=360)


#: The curves of a Qini chart (score columns keep their own names).
QINI_NAMES = {"random targeting": N_("random targeting"), "random": N_("random"), "score": N_("score")}


# ---------------------------------------------------------------------------------------- segments
def segment_colors(order: list[str]) -> dict[str, str]:
    """One colour per segment label, stable for a given display order (shared by every segment chart)."""
    palette = PALETTE + px.colors.qualitative.Pastel
    return {label: palette[i % len(palette)] for i, label in enumerate(order)}


def segment_sizes(sizes: pd.DataFrame, order: list[str], title: str = N_("Customers per segment")) -> go.Figure:
    """Horizontal bars of customers per segment (``segment``, ``customers``, ``share``), in display order."""
    frame = sizes.set_index("segment").reindex(order).dropna(subset=["customers"]).reset_index()
    frame = frame.assign(text=frame["share"].map("{:.0%}".format))
    colors = _color_map(list(dict.fromkeys([*pd.unique(frame["segment"])])), segment_colors(order))
    hover = "=%{y}<br>" + _("customers") + "=%{x}<br>text=%{text}<extra></extra>"
    data = [{"type": "bar", "x": rows["customers"].to_numpy(), "y": rows["segment"].to_numpy(), "orientation": "h",
             "name": str(label), "legendgroup": str(label), "showlegend": True, "text": rows["text"].to_numpy(),
             "textposition": "auto", "textangle": 0,  # a share that does not fit goes beside its bar, not on its side
             "marker": {"color": colors[label], "pattern": {"shape": ""}}, "hovertemplate": hover,
             "xaxis": "x", "yaxis": "y"} for label, rows in _groups(frame, "segment")]
    return _figure(data, _(title), height=max(260, 26 * len(frame) + 90), barmode="relative", showlegend=False,
                   legend={"tracegroupgap": 0},
                   **_axes({"title": {"text": _("customers")}},
                           {"title": {"text": ""}, "categoryorder": "array", "categoryarray": list(reversed(order))}))


def segment_trend(frame: pd.DataFrame, order: list[str], title: str) -> go.Figure:
    """Lines of customers per period and segment (``period``, ``segment``, ``customers``)."""
    if frame.empty:
        return _style(go.Figure(), _("No dates in this dataset, so no trend"))
    values = list(dict.fromkeys([*order, *pd.unique(frame["segment"].dropna())]))
    colors = _color_map(values, segment_colors(order))
    hover = "=%{x}<br>" + _("customers") + "=%{y}<extra></extra>"
    data = [{"type": "scatter", "x": rows["period"].to_numpy(), "y": rows["customers"].to_numpy(),
             "mode": "lines+markers", "name": str(label), "legendgroup": str(label), "showlegend": True,
             "orientation": "v", "line": {"color": colors[label], "dash": "solid"}, "marker": {"symbol": "circle"},
             "hovertemplate": hover, "xaxis": "x", "yaxis": "y"} for label, rows in _groups(frame, "segment", order)]
    return _figure(data, title, height=360, legend={"tracegroupgap": 0},
                   **_axes({"title": {"text": ""}}, {"title": {"text": _("customers")}}))


def rfm_grid(grid: pd.DataFrame) -> go.Figure:
    """Heatmap of customers per recency score x frequency score, each cell named by its RFM segment."""
    counts = grid.pivot(index="r_score", columns="f_score", values="customers").sort_index(ascending=False)
    names = grid.pivot(index="r_score", columns="f_score", values="segment").sort_index(ascending=False)
    text = names.astype(str) + "<br>" + counts.astype(int).map("{:,}".format)
    data = [{"type": "heatmap", "z": counts.to_numpy(), "x": [str(c) for c in counts.columns],
             "y": [str(r) for r in counts.index], "text": text.to_numpy(), "texttemplate": "%{text}",
             "colorscale": "Blues", "showscale": False, "hovertemplate": "R %{y} · F %{x}<br>%{text}<extra></extra>"}]
    return _figure(data, _("RFM grid: customers per recency x frequency score"), height=420,
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
    return _figure(data, _("{metric} by segment and {column}").format(metric=label.capitalize(), column=column_words(column)),
                   height=max(300, 34 * len(table) + 120),
                   xaxis={"title": {"text": column_words(column)}}, yaxis={"autorange": "reversed"})


def customer_map(frame: pd.DataFrame, color: str, order: list[str], title: str) -> go.Figure:
    """Scatter (WebGL) of customers on the 2-D map (``x``, ``y``, ``user_id``), coloured by segment.

    Each point carries its ``user_id`` as custom data, so a lasso or box selection names customers.
    """
    values = list(dict.fromkeys([*order, *pd.unique(frame[color].dropna())]))
    colors = _color_map(values, segment_colors(order))
    data = [{"type": "scattergl", "x": rows["x"].to_numpy(), "y": rows["y"].to_numpy(), "mode": "markers",
             "name": str(label), "legendgroup": str(label), "showlegend": True,
             "customdata": rows[["user_id"]].to_numpy(),
             "marker": {"color": colors[label], "opacity": 0.7, "symbol": "circle", "size": 5},
             "hovertemplate": f"={label}<br>user_id=%{{customdata[0]}}<extra></extra>", "xaxis": "x", "yaxis": "y"}
            for label, rows in _groups(frame, color, order)]
    return _figure(data, title, height=520, dragmode="lasso", legend={"tracegroupgap": 0},
                   **_axes({"title": None, "showticklabels": False}, {"title": None, "showticklabels": False}))


def segment_lift_bars(frame: pd.DataFrame, title: str) -> go.Figure:
    """Horizontal bars of the lift of trait / offer-type values (1 = like everyone)."""
    if frame.empty:
        return _style(go.Figure(), _("{title}: nothing stands out").format(title=title))
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
    return _figure(data, title, height=max(220, 30 * len(shown) + 90), barmode="relative", shapes=[vline],
                   legend={"tracegroupgap": 0},
                   **_axes({"title": {"text": _("lift vs all customers")}}, {"title": {"text": ""}}))


def segment_comparison(frame: pd.DataFrame, column: str, a: str, b: str) -> go.Figure:
    """Grouped bars: share of each value of ``column`` in segment A, segment B and everyone."""
    everyone = _("everyone")
    frame = frame.assign(who=frame["who"].replace({"everyone": everyone}))
    order = [a, b, everyone]
    colors = _color_map(list(dict.fromkeys([*order, *pd.unique(frame["who"].dropna())])),
                        {a: PALETTE[0], b: PALETTE[1], everyone: "#bbbbbb"})
    x_label, y_label = column_words(column), _("share")
    data = [{"type": "bar", "x": rows["value_label"].to_numpy(), "y": rows["share"].to_numpy(), "orientation": "v",
             "name": str(who), "legendgroup": str(who), "offsetgroup": str(who), "alignmentgroup": "True",
             "showlegend": True, "textposition": "auto", "marker": {"color": colors[who], "pattern": {"shape": ""}},
             "hovertemplate": f"={who}<br>{x_label}=%{{x}}<br>{y_label}=%{{y}}<extra></extra>", "xaxis": "x", "yaxis": "y"}
            for who, rows in _groups(frame, "who", order)]
    return _figure(data, _("{column}: {a} vs {b}").format(column=column_words(column).capitalize(), a=a, b=b),
                   barmode="group", legend={"tracegroupgap": 0},
                   **_axes({"title": {"text": x_label}}, {"title": {"text": y_label}, "tickformat": ".0%"}))


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
    return _figure(data, _("How well separated are k clusters? (higher is better)"), height=280,
                   legend={"tracegroupgap": 0},
                   **_axes({"title": {"text": x_label}, "dtick": 1}, {"title": {"text": y_label}}))


# ------------------------------------------------------------------ campaigns (recsys.workspace.campaign)
GROUP_COLORS = {"treatment": "#1e88e5", "control": CONTROL_COLOR}
FLAG_COLOR = "#d32f2f"


def audience_funnel(funnel: pd.DataFrame) -> go.Figure:
    """Horizontal bars of customers left after each eligibility step (``step``, ``customers``)."""
    steps = funnel["step"].astype(str).map(funnel_words)
    data = [{"type": "bar", "x": funnel["customers"], "y": steps, "orientation": "h",
             "text": funnel["customers"].map("{:,}".format), "textposition": "auto",
             "marker": {"color": [GROUP_COLORS.get(s, PALETTE[0]) for s in funnel["step"]]},
             "hovertemplate": "%{y}: " + _("%{x:,} customers") + "<extra></extra>"}]
    return _figure(data, _("Who is left after each rule"), height=max(260, 34 * len(funnel) + 90),
                   xaxis={"title": {"text": _("customers")}}, yaxis={"autorange": "reversed", "title": None})


def audience_sizes(sizes: pd.DataFrame) -> go.Figure:
    """Stacked bars of coupons per offer: treatment (sent) and control (held out, grey)."""
    long = sizes.melt(id_vars=["item_id", "offer"], value_vars=["treatment", "control"], var_name="group",
                      value_name="customers")
    words = {g: _(GROUP_NAMES[g]) for g in GROUP_NAMES}
    long["group"] = long["group"].map(words)
    order = [words["treatment"], words["control"]]
    colors = _color_map(list(dict.fromkeys([*order, *pd.unique(long["group"].dropna())])),
                        _translated_colors(GROUP_COLORS, words))
    hover = "=%{y}<br>" + _("customers") + "=%{x}<br>item_id=%{customdata[0]}<extra></extra>"
    data = [{"type": "bar", "x": rows["customers"].to_numpy(), "y": rows["offer"].to_numpy(), "orientation": "h",
             "name": str(group), "legendgroup": str(group), "showlegend": True, "textposition": "auto",
             "customdata": rows[["item_id"]].to_numpy(), "marker": {"color": colors[group], "pattern": {"shape": ""}},
             "hovertemplate": hover, "xaxis": "x", "yaxis": "y"} for group, rows in _groups(long, "group", order)]
    return _figure(data, _("Coupons per offer: sent (treatment) and held out (control)"),
                   height=max(260, 40 * len(sizes) + 110), barmode="stack", legend={"tracegroupgap": 0},
                   **_axes({"title": None}, {"title": {"text": ""}}))


#: The audience funnel's fixed steps (steps with a number, e.g. "score >= 0.1", are shown as they are).
FUNNEL_STEPS = {"customers in the dataset": N_("customers in the dataset"), "chosen offers": N_("chosen offers"),
                "in segments": N_("in segments"),
                "customer filters": N_("customer filters"), "not already redeemed": N_("not already redeemed"),
                "allocated": N_("allocated"), "treatment": N_("treatment"), "control": N_("control")}
#: The audience funnel's steps with a number or a date in them: pattern -> message.
FUNNEL_PATTERNS = (
    (re.compile(r"not sent a coupon in (\d+) days"), N_("not sent a coupon in {n} days")),
    (re.compile(r"not contacted in (\d+) days"), N_("not contacted in {n} days")),
    (re.compile(r"active since (.+)"), N_("active since {n}")),
    (re.compile(r"score >= (.+)"), N_("score >= {n}")),
)


def funnel_words(step: str) -> str:
    """A funnel step (``recsys.campaign.audience`` names them in English) in the current language."""
    if step in FUNNEL_STEPS:
        return _(FUNNEL_STEPS[step])
    for pattern, message in FUNNEL_PATTERNS:
        if found := pattern.fullmatch(step):
            return _(message).format(n=found.group(1))
    return step


#: The campaign's groups in legends.
GROUP_NAMES = {"treatment": N_("treatment"), "control": N_("control")}


#: Pixels an offer's name takes above its panel (one line of the annotation font).
PANEL_NAME_HEIGHT = 20


def _facet_rows(n: int, spacing: float) -> list[tuple[float, float]]:
    """The vertical domain of ``n`` stacked panels, bottom first, as ``plotly.express``'s facet rows lay them
    out (``make_subplots`` arithmetic, so the figure is the same to the last digit)."""
    height = (1.0 - spacing * (n - 1)) * (1.0 / float(n))
    domains = []
    for r in range(n):
        start = sum([height] * r) + r * spacing
        end = start + height
        domains.append((0.0 if -0.01 < start < 0.0 else start, 1.0 if 1.0 < end < 1.01 else end))
    return domains


def score_distribution(histogram: pd.DataFrame, names: dict[str, str] | None = None, max_offers: int = 6,
                       probability: bool = False) -> go.Figure:
    """Per offer: model scores of every scored customer (grey) and of the targeted ones (blue).

    ``histogram`` has ``item_id``, ``bin_low``, ``bin_high``, ``scored`` and ``targeted``; only the
    ``max_offers`` offers with the most targeted customers are drawn (one small panel each, the first on top).
    """
    if histogram.empty:
        return _style(go.Figure(), _("No scores to show"))
    totals = histogram.groupby("item_id", sort=False)["targeted"].sum().sort_values(ascending=False, kind="stable")
    shown = list(totals.index[:max_offers])
    more = len(totals) - len(shown)
    histogram = histogram[histogram["item_id"].isin(shown)]
    ids = histogram["item_id"].astype(str)
    frame = histogram.assign(
        offer=ids.map(names).fillna(ids) if names else ids,  # (no names: the ids, not a float column filled with text)
        middle=(histogram["bin_low"] + histogram["bin_high"]) / 2, width=histogram["bin_high"] - histogram["bin_low"],
    )
    long = frame.melt(id_vars=["offer", "middle", "width"], value_vars=["scored", "targeted"], var_name="who",
                      value_name="customers")
    scored, targeted = _("all scored"), _("targeted")
    long["who"] = long["who"].map({"scored": scored, "targeted": targeted})
    offers = [o for o in dict.fromkeys(frame.set_index("item_id").loc[shown, "offer"])]
    height = max(280, 130 * len(offers) + 110)
    x_label = _("chance to redeem") if probability else _("model score")
    width = float(frame["width"].median()) if len(frame) else None
    colors = {scored: "#cfd8dc", targeted: GROUP_COLORS["treatment"]}
    ticks = {"tickformat": ".0%"} if probability else {}
    panels = dict(tuple(long.groupby(["offer", "who"], sort=False)))
    domains = _facet_rows(len(offers), min(0.1, 36 / height))
    data, axes, annotations, in_legend = [], {}, [], set()
    for row, offer in enumerate(offers):  # the first offer on top; plotly numbers the axes from the bottom
        number = len(offers) - row
        suffix = "" if number == 1 else str(number)
        for who in (scored, targeted):
            rows = panels[(offer, who)]
            data.append({
                "type": "bar", "x": rows["middle"].to_numpy(), "y": rows["customers"].to_numpy(), "orientation": "v",
                "name": who, "legendgroup": who, "showlegend": who not in in_legend, "textposition": "auto",
                "width": width, "marker": {"color": colors[who], "opacity": 0.85, "pattern": {"shape": ""}},
                "hovertemplate": f"={who}<br>{_('offer')}={offer}<br>{x_label}=%{{x}}<br>{_('customers')}=%{{y}}"
                                 "<extra></extra>",
                "xaxis": f"x{suffix}", "yaxis": f"y{suffix}",
            })
            in_legend.add(who)
        low, top = domains[number - 1]
        axes[f"xaxis{suffix}"] = {"anchor": f"y{suffix}", "domain": [0.0, 0.98], **ticks, **(
            {"title": {"text": x_label}} if number == 1 else {"matches": "x", "showticklabels": False})}
        axes[f"yaxis{suffix}"] = {"anchor": f"x{suffix}", "domain": [low, top], "title": None}
        annotations.append({"text": str(offer), "font": {}, "showarrow": False, "textangle": 0, "x": 0, "xanchor": "left",
                            "xref": "paper", "y": top, "yanchor": "bottom", "yref": "paper"})  # the name above its panel
    title = (_("Chance to redeem: every eligible customer and those who get a coupon") if probability
             else _("Score distribution: who the model picks (higher = better fit)"))
    if more > 0:
        title += _(" — the {n} offers with most coupons ({more} more not shown)").format(n=len(shown), more=more)
    title = wrap_title(title)
    return _figure(data, title, height=height, barmode="overlay", legend={"tracegroupgap": 0},
                   annotations=annotations[::-1], margin=panel_name_margin(title), **axes)


def panel_name_margin(title: str) -> dict[str, int]:
    """The margins of a figure whose top panel has its name above it: room for the name under the title."""
    return {"l": 10, "r": MODEBAR_MARGIN, "t": (65 if "<br>" in title else 45) + PANEL_NAME_HEIGHT, "b": 10}


def group_mix(mix: pd.DataFrame, column: str) -> go.Figure:
    """Stacked bars: share of each offer's targeted customers by the values of one customer column."""
    colors = _color_map(list(pd.unique(mix["value"].dropna())), sequence=PALETTE)
    hover = ("=%{y}<br>" + _("share of targeted customers") + "=%{x}<br>" + _("customers")
             + "=%{customdata[0]}<extra></extra>")
    data = [{"type": "bar", "x": rows["share"].to_numpy(), "y": rows["offer"].to_numpy(), "orientation": "h",
             "name": str(value), "legendgroup": str(value), "showlegend": True, "textposition": "auto",
             "customdata": rows[["customers"]].to_numpy(), "marker": {"color": colors[value], "pattern": {"shape": ""}},
             "hovertemplate": hover, "xaxis": "x", "yaxis": "y"} for value, rows in _groups(mix, "value")]
    return _figure(data, _("Share of each offer's targeted customers, by {column}").format(column=column_words(column)),
                   height=max(260, 40 * mix["offer"].nunique() + 120), barmode="stack", legend={"tracegroupgap": 0},
                   **_axes({"title": None, "tickformat": ".0%"}, {"title": {"text": ""}}))


def selection_rates(table: pd.DataFrame, column: str, threshold: float = 0.8) -> go.Figure:
    """Share of each customer group targeted; red bars fall below the four-fifths line (dashed)."""
    colors = [FLAG_COLOR if flag else PALETTE[0] for flag in table["flag"]]
    data = [{"type": "bar", "x": table["value"].astype(str), "y": table["rate"], "marker": {"color": colors},
             "text": table["rate"].map("{:.1%}".format), "textposition": "outside",
             "customdata": table[["targeted", "base"]],
             "hovertemplate": "%{x}: %{y:.1%}<br>" + _("%{customdata[0]:,} of %{customdata[1]:,} customers")
             + "<extra></extra>"}]
    judged = table.loc[table["ratio"].notna(), "rate"]
    shapes, annotations = [], []
    if len(judged):
        line = threshold * float(judged.max())
        shapes.append({"type": "line", "x0": 0, "x1": 1, "xref": "x domain", "y0": line, "y1": line, "yref": "y",
                       "line": {"color": FLAG_COLOR, "dash": "dash"}})
        annotations.append({"text": _("four-fifths of the top group"), "showarrow": False, "x": 1, "xanchor": "right",
                            "xref": "x domain", "y": line, "yanchor": "bottom", "yref": "y"})
    return _figure(data, _("Share of each {column} group targeted (red: below four-fifths)").format(column=column_words(column)),
                   shapes=shapes, annotations=annotations, xaxis={"title": None},
                   yaxis={"tickformat": ".0%", "title": {"text": _("share of the group targeted")}, "rangemode": "tozero"})


# ------------------------------------------------------------------ explanations (recsys.insight.attribution)
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
    return _style(fig, _(title), height=max(280, 36 * len(values) + 120))


def attribution_spread(spread: pd.DataFrame, summary: pd.DataFrame, title: str) -> go.Figure:
    """Attributions per customer trait: a bar at the mean, and dots where the trait's customers sit.

    ``spread`` (``contributor``, ``attribution``, ``customers``) is ``OfferDrivers.spread()``: its customers
    binned, one dot per bin sized by its share of the trait's customers (hover: how many). ``summary``
    (``contributor``, ``customers``, ``mean``) is ``OfferDrivers.summary()``: it orders the rows (strongest lift
    on top, green lifts, red holds back) and labels them with the number of customers. A bilinear model gives
    every customer with the same single-valued trait the same value for one offer, so those sit in one dot on
    the bar's end; the customers' own history spreads. One trace of a few hundred points whatever the number
    of customers (a dot per customer sent ~230 KB of JSON for 20,000 customers).
    """
    order = summary.sort_values(MEAN, ascending=False)
    names = {c: f"{c}  ({n:,})" for c, n in zip(order[CONTRIBUTOR], order[CUSTOMERS])}
    rows = [names[c] for c in order[CONTRIBUTOR]]
    fig = go.Figure(go.Bar(
        x=order[MEAN], y=rows, orientation="h", name=_("mean lift"),
        marker_color=[UP_COLOR if m > 0 else DOWN_COLOR for m in order[MEAN]], opacity=0.75,
        text=[f"{m:+.3f}" for m in order[MEAN]], textposition="outside", cliponaxis=False,
        hovertemplate="%{y}<br>" + _("mean %{x:+.4f}") + "<extra></extra>",
    ))
    counts = spread[CUSTOMERS].to_numpy(np.float64)
    share = counts / np.maximum(spread.groupby(CONTRIBUTOR)[CUSTOMERS].transform("sum").to_numpy(np.float64), 1.0)
    fig.add_trace(go.Scatter(
        x=spread[ATTRIBUTION].to_numpy(np.float64), y=spread[CONTRIBUTOR].map(names).tolist(), mode="markers",
        name=_("customers"), customdata=counts.astype(np.int64),
        marker={"size": np.round(3 + 11 * np.sqrt(share), 1), "color": "#263238", "opacity": 0.45},
        hovertemplate="%{y}<br>%{x:+.4f}: " + _("{n} customers").format(n="%{customdata:,}") + "<extra></extra>",
    ))
    fig.add_vline(x=0, line_color=NEUTRAL_COLOR, line_width=1)
    fig.update_yaxes(categoryorder="array", categoryarray=rows, autorange="reversed", title=None)
    fig.update_xaxes(title=_("lift of this offer's score (attribution)"))
    return _style(fig, title, height=max(320, 26 * len(order) + 130))


def attribution_heatmap(matrix: pd.DataFrame, title: str, x_title: str = "", y_title: str = "") -> go.Figure:
    """Diverging heatmap of attributions (red pushes down, green up), values written in the cells.

    ``matrix``: rows and columns are labels, cells are attributions (e.g. facts x listed offers,
    or a pair's customer facts x offer facts).
    """
    z = matrix.to_numpy(float)
    limit = float(abs(z).max()) if z.size else 1.0
    fig = go.Figure(go.Heatmap(
        z=z, x=[_short(c) for c in matrix.columns], y=[_short(i) for i in matrix.index], zmid=0,
        zmin=-limit, zmax=limit, colorscale=[[0, DOWN_COLOR], [0.5, "#f5f5f5"], [1, UP_COLOR]],
        text=[[f"{v:+.2f}" for v in row] for row in z], texttemplate="%{text}", textfont={"size": 10},
        hovertemplate="%{y}<br>%{x}<br>%{z:+.4f}<extra></extra>", colorbar={"title": _("lift")},
    ))
    fig.update_yaxes(autorange="reversed", title=y_title or None)
    fig.update_xaxes(title=x_title or None, tickangle=-30)
    longest = max((len(_short(c)) for c in matrix.columns), default=0)
    return _style(fig, title, height=max(300, 30 * len(matrix.index) + 120 + 5 * longest))


def _short(label: object, width: int = 40) -> str:
    """A tick label cut to ``width`` characters (hover text keeps the whole label)."""
    text = str(label)
    return text if len(text) <= width else text[: width - 1] + "…"


# ------------------------------------------------------------------ fairness (recsys.insight.audit)
FAIR_COLOR = "#1e88e5"
MUTED_COLOR = "#b0bec5"
HISTORY_COLORS = {"shown in the past": "#b0bec5", "responded in the past": "#78909c", "offered by the model": FAIR_COLOR}
#: The series of :func:`favourable_history` (callers name them in English; shown translated).
HISTORY_NAMES = {"shown in the past": N_("shown in the past"), "responded in the past": N_("responded in the past"),
                 "offered by the model": N_("offered by the model")}


def disparate_impact(table: pd.DataFrame, column: str, what: str, threshold: float = 0.8) -> go.Figure:
    """Each customer group's rate of favourable offers as a share of the most-offered group's.

    ``table`` is ``recsys.insight.groups.offer_rates`` output (``group``, ``ratio``, ``ratio_low``,
    ``ratio_high``, ``rate``, ``customers``, ``judged``, ``flagged``). Red bars fall below the
    four-fifths line (dashed); grey groups are too small to judge; whiskers are 95% intervals.
    """
    shown = table.dropna(subset=["ratio"]).sort_values("ratio", ascending=True, kind="stable")
    if shown.empty:
        return _style(go.Figure(), _("No favourable offers to compare"))
    top = pd.concat([shown["ratio"], shown["ratio_high"]]).max(skipna=True)
    top = 1.0 if pd.isna(top) else float(top)
    colors = [FLAG_COLOR if f else (FAIR_COLOR if j else MUTED_COLOR) for f, j in zip(shown["flagged"], shown["judged"])]
    fig = go.Figure(go.Bar(
        x=shown["ratio"], y=shown["group"].astype(str), orientation="h", marker_color=colors,
        text=shown["ratio"].map("{:.2f}x".format), textposition="inside", insidetextanchor="start",
        error_x={"type": "data", "symmetric": False, "array": (shown["ratio_high"] - shown["ratio"]).clip(lower=0),
                 "arrayminus": (shown["ratio"] - shown["ratio_low"]).clip(lower=0), "color": "#455a64", "thickness": 1.2},
        customdata=shown[["rate", "customers"]],
        hovertemplate=_("%{y}: %{x:.2f}x the top group<br>rate %{customdata[0]:.1%} of %{customdata[1]:,} customers")
        + "<extra></extra>",
    ))
    fig.add_vline(x=threshold, line_dash="dash", line_color=FLAG_COLOR,
                  annotation_text=_("four-fifths line"), annotation_position="top")
    fig.update_xaxes(title=_("{what}: rate relative to the most-offered group").format(what=what),
                     range=[0, max(1.05, top + 0.05)])
    fig.update_yaxes(title=None)
    return _style(fig, _("Who is offered {what}, by {column} (red: below four-fifths)").format(
                      what=what, column=column_words(column)),
                  height=max(260, 36 * len(shown) + 120))


def favourable_history(tables: dict[str, pd.DataFrame], column: str, what: str) -> go.Figure:
    """Grouped bars per customer group: share of favourable offers shown / responded in the past
    and offered by the model (``tables``: series name -> ``recsys.insight.groups.offer_rates`` output)."""
    frames = [t.assign(series=name)[["group", "rate", "series"]] for name, t in tables.items() if not t.empty]
    if not frames:
        return _style(go.Figure(), _("No history to compare"))
    long = pd.concat(frames, ignore_index=True).dropna(subset=["rate"])
    words = {name: _(HISTORY_NAMES[name]) if name in HISTORY_NAMES else name for name in tables}
    long["series"] = long["series"].map(words)
    order = sorted(long["group"].astype(str).unique())
    fig = px.bar(
        long, x="group", y="rate", color="series", barmode="group", text=long["rate"].map("{:.0%}".format),
        color_discrete_map=_translated_colors(HISTORY_COLORS, words),
        category_orders={"group": order, "series": [words[t] for t in tables]},
        labels={"group": "", "rate": _("share of offers that are {what}").format(what=what), "series": ""},
    )
    fig.update_traces(textposition="outside", cliponaxis=False)
    fig.update_yaxes(tickformat=".0%", rangemode="tozero")
    return _style(fig, _("{what}: the past against the model, by {column}").format(
        what=what.capitalize(), column=column_words(column)), height=380)


def group_metric_intervals(table: pd.DataFrame, column: str, metric: str) -> go.Figure:
    """Dot-and-whisker chart of one metric per customer group with its bootstrap interval.

    ``table`` is ``recsys.insight.groups.group_table`` output; the dotted line is the mean over all customers.
    """
    rows = table[(table["metric"] == metric) & (table["customers"] > 0)].sort_values("mean", kind="stable")
    if rows.empty:
        return _style(go.Figure(), _("No {metric} to show").format(metric=metric))
    fig = go.Figure(go.Scatter(
        x=rows["mean"], y=rows["group"].astype(str), mode="markers", marker={"size": 11, "color": FAIR_COLOR},
        error_x={"type": "data", "symmetric": False, "array": rows["ci_high"] - rows["mean"],
                 "arrayminus": rows["mean"] - rows["ci_low"], "color": FAIR_COLOR, "thickness": 1.5},
        customdata=rows[["customers", "ci_low", "ci_high"]],
        hovertemplate=_("%{y}: %{x:.3f} (95%% interval %{customdata[1]:.3f}-%{customdata[2]:.3f})<br>"
                        "%{customdata[0]:,} customers") + "<extra></extra>",
    ))
    overall = float((rows["mean"] * rows["customers"]).sum() / rows["customers"].sum())
    fig.add_vline(x=overall, line_dash="dot", line_color="#757575", annotation_text=_("all customers"),
                  annotation_position="top")
    fig.update_xaxes(title=metric, rangemode="tozero")
    fig.update_yaxes(title=None)
    return _style(fig, _("{metric} by {column} (whiskers: 95% intervals)").format(metric=metric, column=column_words(column)),
                  height=max(240, 34 * len(rows) + 110))


def exposure_shares(table: pd.DataFrame, column: str) -> go.Figure:
    """Per offer group: share of recommendation slots against share of catalogue and past interactions."""
    if table.empty:
        return _style(go.Figure(), _("No offer groups to show"))
    names = {"slot_share": _("recommendation slots"), "catalogue_share": _("catalogue"),
             "interaction_share": _("past interactions")}
    present = [c for c in names if c in table.columns and table[c].notna().any()]
    long = table.melt(id_vars="group", value_vars=present, var_name="share of", value_name="share")
    long["share of"] = long["share of"].map(names)
    order = list(table.sort_values("slot_share", ascending=True)["group"].astype(str))
    fig = px.bar(
        long, x="share", y="group", color="share of", barmode="group", orientation="h",
        color_discrete_map={names["slot_share"]: FAIR_COLOR, names["catalogue_share"]: MUTED_COLOR,
                            names["interaction_share"]: "#78909c"},
        category_orders={"group": order, "share of": [names[c] for c in present]},
        labels={"group": "", "share": _("share"), "share of": ""},
    )
    fig.update_xaxes(tickformat=".0%")
    return _style(fig, _("Exposure by {column}: slots against catalogue and history").format(column=column_words(column)),
                  height=max(300, 26 * len(table) * max(len(present), 1) // 2 + 140))


def lorenz_curve(exposure: pd.Series, gini: float | None = None) -> go.Figure:
    """Lorenz curve of recommendation slots over offers (least-shown first), with the equality line."""
    counts = pd.Series(exposure, dtype=float).sort_values().to_numpy()
    if len(counts) == 0 or counts.sum() <= 0:
        return _style(go.Figure(), _("No exposure to show"))
    x = [0.0, *((pd.RangeIndex(1, len(counts) + 1) / len(counts)).tolist())]
    y = [0.0, *(counts.cumsum() / counts.sum()).tolist()]
    fig = go.Figure([
        go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dash", "color": MUTED_COLOR},
                   name=_("every offer equal"), hoverinfo="skip"),
        go.Scatter(x=x, y=y, mode="lines", fill="tonexty", line={"color": FAIR_COLOR, "width": 2.5},
                   name=_("the model's lists"),
                   hovertemplate=_("least-shown %{x:.0%} of offers get %{y:.0%} of slots") + "<extra></extra>"),
    ])
    fig.update_xaxes(title=_("share of offers (least shown first)"), tickformat=".0%", range=[0, 1])
    fig.update_yaxes(title=_("share of recommendation slots"), tickformat=".0%", range=[0, 1])
    title = _("How evenly offers are shown") + (f" (Gini {gini:.2f})" if gini is not None else "")
    return _style(fig, title, height=360)


def _sparse_labels(frame: pd.DataFrame, x: str, y: str) -> list[str]:
    """Strength labels, skipping points that would print on top of the last labelled one."""
    span_x = float(frame[x].max() - frame[x].min()) or 1.0
    span_y = float(frame[y].max() - frame[y].min()) or 1.0
    labels, last = [], None
    for s, px_, py_ in zip(frame["strength"], frame[x], frame[y]):
        if last is None or abs(px_ - last[0]) > 0.04 * span_x or abs(py_ - last[1]) > 0.06 * span_y:
            labels.append(f"{s:.2f}")
            last = (px_, py_)
        else:
            labels.append("")
    return labels


def tradeoff_curve(sweep: pd.DataFrame, x: str, y: str, *, chosen: float | None = None,
                   x_label: str | None = None, y_label: str | None = None, threshold: float | None = None,
                   also: dict[str, str] | None = None) -> go.Figure:
    """The re-ranking trade-off: one point per strength (labelled), the chosen one highlighted.

    ``sweep`` is ``recsys.insight.tradeoff.tradeoff_sweep`` output; ``threshold`` draws the four-fifths line on
    the x axis when ``x`` is a disparate-impact ratio; ``also`` (column -> words) adds grey curves
    of other x measures against the same y (e.g. the lowest ratio over all groups).
    """
    frame = sweep.dropna(subset=[x, y]).sort_values("strength")
    if frame.empty:
        return _style(go.Figure(), _("No trade-off to show"))
    fig = go.Figure()
    for column, words in (also or {}).items():
        if column in frame.columns and frame[column].notna().any():
            fig.add_trace(go.Scatter(
                x=frame[column], y=frame[y], mode="lines+markers", name=words, line={"color": MUTED_COLOR, "dash": "dot"},
                marker={"size": 6, "color": MUTED_COLOR}, customdata=frame["strength"],
                hovertemplate=_("strength %{customdata:.2f}") + f"<br>{words}: %{{x:.3f}}<extra></extra>",
            ))
    fig.add_trace(go.Scatter(
        x=frame[x], y=frame[y], mode="lines+markers+text", text=_sparse_labels(frame, x, y),
        textposition="top center", marker={"size": 9, "color": FAIR_COLOR}, line={"color": FAIR_COLOR},
        customdata=frame["strength"], name=x_label or x,
        hovertemplate=_("strength %{customdata:.2f}")
        + f"<br>{x_label or x}: %{{x:.3f}}<br>{y_label or y}: %{{y:.4f}}<extra></extra>",
    ))
    if chosen is not None:
        pick = frame[(frame["strength"] - chosen).abs() < 1e-9]
        if len(pick):
            fig.add_trace(go.Scatter(x=pick[x], y=pick[y], mode="markers", name=_("chosen"),
                                     marker={"size": 18, "color": "rgba(0,0,0,0)", "line": {"color": FLAG_COLOR, "width": 3}}))
    if threshold is not None:
        fig.add_vline(x=threshold, line_dash="dash", line_color=FLAG_COLOR, annotation_text=_("four-fifths line"),
                      annotation_position="bottom left")
    fig.update_xaxes(title=x_label or x)
    fig.update_yaxes(title=y_label or y)
    fig.update_layout(showlegend=bool(also))
    return _style(fig, _("Trade-off: {y} against {x} (labels: strength)").format(y=y_label or y, x=x_label or x),
                  height=420)


RELIABILITY_COLORS = {"predicted": "#1e88e5", "observed": "#43a047"}


def reliability_chart(deciles: pd.DataFrame, title: str = N_("Do the predicted chances come true?")) -> go.Figure:
    """Predicted against observed response rate (%) per tenth of customer x offer pairs, from a
    reliability table (``decile``, ``mean_predicted``, ``observed_rate``, ``rows``)."""
    if deciles is None or not len(deciles):
        return _style(go.Figure(), _("No calibration figures for this run"))
    frame = pd.DataFrame(deciles)
    predicted, observed = _("predicted"), _("observed")
    long = pd.DataFrame({
        "tenth": frame["decile"].astype(int).tolist() * 2,
        "what": [predicted] * len(frame) + [observed] * len(frame),
        "rate": (pd.concat([frame["mean_predicted"], frame["observed_rate"]], ignore_index=True) * 100).to_numpy(),
    })
    fig = px.bar(
        long, x="tenth", y="rate", color="what", barmode="group", text=long["rate"].map("{:.1f}%".format),
        color_discrete_map={predicted: RELIABILITY_COLORS["predicted"], observed: RELIABILITY_COLORS["observed"]},
        labels={"tenth": _("tenth of customer x offer pairs, least to most likely"), "rate": _("response rate (%)"),
                "what": ""},
    )
    fig.update_traces(textposition="outside", cliponaxis=False)
    fig.update_xaxes(dtick=1)
    return _style(fig, _(title), height=380)
