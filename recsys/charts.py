"""Plotly figure builders: pure functions, data in, figure out. No Streamlit here."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

#: One palette for the whole app, so an event type has the same colour on every chart.
PALETTE = px.colors.qualitative.Safe
TEMPLATE = "plotly_white"
#: Fixed colours per event type so an event looks the same on every chart.
EVENT_COLORS = {
    "impression": "#b0bec5", "view": "#90caf9", "click": "#1e88e5", "redeem": "#fb8c00",
    "purchase": "#2e7d32", "interaction": "#6a1b9a",
}


def _event_colors(events: pd.Series) -> dict[str, str]:
    others = iter(PALETTE)
    return {e: EVENT_COLORS.get(e) or next(others) for e in pd.unique(events)}


def _style(fig: go.Figure, title: str, height: int = 340) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0, "xanchor": "left", "font": {"size": 15}},
        template=TEMPLATE, height=height, margin={"l": 10, "r": 10, "t": 45, "b": 10},
        legend={"orientation": "h", "y": -0.18, "title": None},
    )
    return fig


def events_over_time(frame: pd.DataFrame, period: str = "week") -> go.Figure:
    """One small line chart per event type (own y scale, so rare events stay readable).

    Incomplete first/last periods (``complete`` False) are left out and the title says so.
    """
    shown = frame[frame["complete"]] if "complete" in frame.columns else frame
    dropped = len(frame) > len(shown)
    fig = px.line(
        shown, x="period", y="rows", color="event", facet_row="event", markers=False,
        color_discrete_map=_event_colors(frame["event"]), labels={"period": "", "rows": ""},
        category_orders={"event": list(frame.groupby("event")["rows"].sum().sort_values(ascending=False).index)},
    )
    fig.update_yaxes(matches=None, rangemode="tozero", title=None)
    fig.for_each_annotation(lambda a: a.update(text=a.text.split("=")[-1], textangle=0, x=0.01, xanchor="left", yanchor="top"))
    fig.update_layout(showlegend=False)
    title = f"Events per {period}" + (" (incomplete first/last periods left out)" if dropped else "")
    return _style(fig, title, height=max(300, 110 * frame["event"].nunique() + 60))


def event_mix(frame: pd.DataFrame) -> go.Figure:
    """Horizontal bars of rows per event type, with the share of all rows."""
    frame = frame.assign(share=frame["rows"] / frame["rows"].sum())
    fig = px.bar(
        frame.sort_values("rows"), x="rows", y="event", orientation="h", color="event",
        color_discrete_map=_event_colors(frame["event"]), text=frame.sort_values("rows")["share"].map("{:.0%}".format),
        labels={"rows": "events", "event": ""},
    )
    fig.update_layout(showlegend=False)
    return _style(fig, "Event mix")


def top_items(frame: pd.DataFrame, noun: str = "offers") -> go.Figure:
    """Horizontal bars of the most popular items by customers reached."""
    ordered = frame.sort_values("customers")
    fig = px.bar(
        ordered, x="customers", y="label", orientation="h", hover_data=["item_id", "rows", "revenue"],
        labels={"customers": "customers who interacted", "label": ""},
        color_discrete_sequence=PALETTE[1:],
    )
    return _style(fig, f"Top {len(frame)} {noun}", height=max(340, 22 * len(frame) + 80))


def activity_distribution(frame: pd.DataFrame) -> go.Figure:
    """Bars of customers per activity bucket."""
    x = frame.columns[0]
    fig = px.bar(frame, x=x, y="customers", color_discrete_sequence=PALETTE[2:], labels={x: "interactions per customer"})
    return _style(fig, "How active are customers?")


def users_by_column(frame: pd.DataFrame) -> go.Figure:
    """Bars of customers per value of one customer column."""
    column = frame.columns[0]
    ordered = frame.sort_values("customers")
    fig = px.bar(
        ordered, x="customers", y=column, orientation="h", color_discrete_sequence=PALETTE[3:],
        labels={column: ""},
    )
    return _style(fig, f"Customers per {column.replace('_', ' ')}", height=max(300, 24 * len(frame) + 80))


def cleaning_report(frame: pd.DataFrame) -> go.Figure:
    """Bars of rows affected per cleaning step (from ``CleaningReport.to_frame``)."""
    shown = frame[frame["count"] > 0]
    fig = px.bar(
        shown.sort_values("count"), x="count", y="name", color="table", orientation="h",
        color_discrete_sequence=PALETTE, labels={"count": "rows", "name": ""},
    )
    return _style(fig, "What cleaning changed", height=max(260, 28 * len(shown) + 90))


MODEL_COLORS = {"hybrid": "#1f77b4", "collaborative": "#9467bd", "popularity": "#ff7f0e", "random": "#7f7f7f"}


def model_comparison(metrics: pd.DataFrame, names: list[str]) -> go.Figure:
    """Grouped bars: each metric (``names``) for every model (rows of ``metrics``)."""
    long = (
        metrics[[n for n in names if n in metrics.columns]]
        .rename_axis("model").reset_index()
        .melt(id_vars="model", var_name="metric", value_name="value")
    )
    fig = px.bar(
        long, x="metric", y="value", color="model", barmode="group", text=long["value"].map("{:.3f}".format),
        color_discrete_map=MODEL_COLORS, labels={"metric": "", "value": ""},
    )
    fig.update_traces(textposition="outside", cliponaxis=False)
    return _style(fig, "The model against the baselines (higher is better)", height=380)


def epoch_curve(epochs: pd.DataFrame, metric: str) -> go.Figure:
    """Validation metric per epoch, one line per model and phase."""
    frame = epochs.dropna(subset=[metric]) if metric in epochs.columns else epochs.iloc[0:0]
    if frame.empty:
        return _style(go.Figure(), "No validation curve (early stopping was off)")
    label = frame["model"] + " (" + frame["phase"].str.replace("_", " ") + ")"
    fig = px.line(
        frame.assign(line=label), x="epoch", y=metric, color="line", markers=True,
        labels={"epoch": "epoch", metric: f"validation {metric}", "line": ""},
    )
    return _style(fig, f"Learning curve: validation {metric} per epoch")


def metric_by_group(frame: pd.DataFrame, column: str, metric: str) -> go.Figure:
    """Bars of a per-user metric averaged per customer group, per model."""
    fig = px.bar(
        frame, x=column, y="mean", color="model", barmode="group", hover_data=["count"],
        color_discrete_map=MODEL_COLORS, labels={"mean": metric, column: column.replace("_", " ")},
    )
    return _style(fig, f"{metric} by {column.replace('_', ' ')}")


# ------------------------------------------------------------------ measurement (recsys.measure)
CONTROL_COLOR = "#9E9E9E"


def _is_rate(frame: pd.DataFrame) -> bool:
    return bool((frame["kind"] == "rate").all()) if "kind" in frame.columns and len(frame) else False


def arm_means(arms: pd.DataFrame, outcome: str) -> go.Figure:
    """Bars of each arm's rate or mean with its confidence interval; the control in grey.

    ``arms`` is ``Measurement.arms``; only the rows of ``outcome`` are drawn.
    """
    part = arms[arms["outcome"] == outcome]
    rate = _is_rate(part)
    colors = [CONTROL_COLOR if c else PALETTE[i % len(PALETTE)] for i, c in enumerate(part["is_control"])]
    fig = go.Figure(go.Bar(
        x=part["arm"], y=part["mean"], marker_color=colors,
        error_y={"type": "data", "array": part["mean_high"] - part["mean"],
                 "arrayminus": part["mean"] - part["mean_low"], "thickness": 1.5},
        text=part["mean"].map("{:.2%}".format if rate else "{:,.4f}".format), textposition="outside",
        customdata=part[["n"]], hovertemplate="%{x}<br>%{y:.4f}<br>%{customdata[0]:,} customers<extra></extra>",
    ))
    fig.update_layout(yaxis_tickformat=".1%" if rate else None, showlegend=False)
    fig.update_yaxes(title=f"{outcome} rate" if rate else f"{outcome} per customer")
    return _style(fig, f"{outcome}: {'rate' if rate else 'mean'} per arm (bars: 95% interval)")


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
        hovertemplate="%{x}<br>lift %{y:.3f}" + (" points" if rate else "") + "<extra></extra>",
    ))
    fig.add_hline(y=0, line_color="black", line_width=1)
    fig.update_yaxes(title="lift (percentage points)" if rate else "lift per customer")
    return _style(fig, f"{outcome}: lift over control (grey = could be chance)")


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
    fig.update_xaxes(title="score decile (10 = highest scores)", dtick=1)
    fig.update_yaxes(title="lift (percentage points)" if rate else "lift per customer")
    return _style(fig, f"{outcome}: lift by score decile", height=360)
