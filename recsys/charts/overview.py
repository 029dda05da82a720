"""The Data page's charts: events over time, the event mix, top offers, customer activity, customers per
column (``recsys.workspace.overview`` summaries) and what cleaning changed. No Streamlit here."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from recsys.core.i18n import N_
from recsys.core.i18n import gettext as _
from recsys.core.words import event_word
from recsys.insight.rules import column_words
from recsys.charts.style import PALETTE, style_figure


#: Fixed colours per event type so an event looks the same on every chart.
EVENT_COLORS = {
    "impression": "#b0bec5", "view": "#90caf9", "click": "#1e88e5", "redeem": "#fb8c00",
    "purchase": "#2e7d32", "interaction": "#6a1b9a",
}


def _event_colors(events: pd.Series) -> dict[str, str]:
    others = iter(PALETTE)
    return {e: EVENT_COLORS.get(e) or next(others) for e in pd.unique(events)}


def _events_in_words(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    """``frame`` with its ``event`` column in the current language, and the event colours by those words."""
    word = {e: event_word(e) for e in pd.unique(frame["event"])}
    colors = {word[e]: c for e, c in _event_colors(frame["event"]).items()}
    return frame.assign(event=frame["event"].map(word)), colors


PERIODS = {"day": N_("day"), "week": N_("week"), "month": N_("month")}


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
    return style_figure(fig, title, height=max(300, 110 * frame["event"].nunique() + 60))


def event_mix(frame: pd.DataFrame) -> go.Figure:
    """Horizontal bars of rows per event type, with the share of all rows."""
    frame, colors = _events_in_words(frame.assign(share=frame["rows"] / frame["rows"].sum()))
    fig = px.bar(
        frame.sort_values("rows"), x="rows", y="event", orientation="h", color="event",
        color_discrete_map=colors, text=frame.sort_values("rows")["share"].map("{:.0%}".format),
        labels={"rows": _("events"), "event": ""},
    )
    fig.update_layout(showlegend=False)
    return style_figure(fig, _("Event mix"))


def top_items(frame: pd.DataFrame, noun: str = N_("offers")) -> go.Figure:
    """Horizontal bars of the most popular items by customers reached."""
    ordered = frame.sort_values("customers")
    fig = px.bar(
        ordered, x="customers", y="label", orientation="h", hover_data=["item_id", "rows", "revenue"],
        labels={"customers": _("customers who interacted"), "label": "", "rows": _("rows"), "revenue": _("revenue")},
        color_discrete_sequence=PALETTE[1:],
    )
    return style_figure(fig, _("Top {n} {noun}").format(n=len(frame), noun=_(noun)), height=max(340, 22 * len(frame) + 80))


def activity_distribution(frame: pd.DataFrame) -> go.Figure:
    """Bars of customers per activity bucket."""
    x = frame.columns[0]
    fig = px.bar(frame, x=x, y="customers", color_discrete_sequence=PALETTE[2:],
                 labels={x: _("interactions per customer"), "customers": _("customers")})
    return style_figure(fig, _("How active are customers?"))


def users_by_column(frame: pd.DataFrame) -> go.Figure:
    """Bars of customers per value of one customer column."""
    column = frame.columns[0]
    ordered = frame.sort_values("customers")
    fig = px.bar(
        ordered, x="customers", y=column, orientation="h", color_discrete_sequence=PALETTE[3:],
        labels={column: "", "customers": _("customers")},
    )
    return style_figure(fig, _("Customers per {column}").format(column=column_words(column)), height=max(300, 24 * len(frame) + 80))


def cleaning_report(frame: pd.DataFrame) -> go.Figure:
    """Bars of rows affected per cleaning step (from ``CleaningReport.to_frame``)."""
    shown = frame[frame["count"] > 0]
    shown = shown.assign(table=shown["table"].astype(str).map(lambda t: _(TABLE_NAMES[t]) if t in TABLE_NAMES else t))
    fig = px.bar(
        shown.sort_values("count"), x="count", y="name", color="table", orientation="h",
        color_discrete_sequence=PALETTE, labels={"count": _("rows"), "name": "", "table": ""},
    )
    return style_figure(fig, _("What cleaning changed"), height=max(260, 28 * len(shown) + 90))


#: The data's tables in legends.
TABLE_NAMES = {"interactions": N_("interactions"), "users": N_("users"), "items": N_("items")}
