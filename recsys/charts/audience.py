"""The Campaign page's charts, one-pass builders (``go.Figure(data, layout)``): the audience funnel, coupons
per offer, score distributions, the group mix and the selection check (four-fifths rule). No Streamlit here."""

from __future__ import annotations

import re

import pandas as pd
import plotly.graph_objects as go

from recsys.core.i18n import N_
from recsys.core.i18n import gettext as _
from recsys.insight.rules import column_words
from recsys.charts.style import (
    CONTROL_COLOR, FLAG_COLOR, MODEBAR_MARGIN, PALETTE, build_figure, color_map, plot_axes, style_figure,
    trace_groups, translated_colors, wrap_title,
)


GROUP_COLORS = {"treatment": "#1e88e5", "control": CONTROL_COLOR}


def audience_funnel(funnel: pd.DataFrame) -> go.Figure:
    """Horizontal bars of customers left after each eligibility step (``step``, ``customers``)."""
    steps = funnel["step"].astype(str).map(funnel_words)
    data = [{"type": "bar", "x": funnel["customers"], "y": steps, "orientation": "h",
             "text": funnel["customers"].map("{:,}".format), "textposition": "auto",
             "marker": {"color": [GROUP_COLORS.get(s, PALETTE[0]) for s in funnel["step"]]},
             "hovertemplate": "%{y}: " + _("%{x:,} customers") + "<extra></extra>"}]
    return build_figure(data, _("Who is left after each rule"), height=max(260, 34 * len(funnel) + 90),
                   xaxis={"title": {"text": _("customers")}}, yaxis={"autorange": "reversed", "title": None})


def audience_sizes(sizes: pd.DataFrame) -> go.Figure:
    """Stacked bars of coupons per offer: treatment (sent) and control (held out, grey)."""
    long = sizes.melt(id_vars=["item_id", "offer"], value_vars=["treatment", "control"], var_name="group",
                      value_name="customers")
    words = {g: _(GROUP_NAMES[g]) for g in GROUP_NAMES}
    long["group"] = long["group"].map(words)
    order = [words["treatment"], words["control"]]
    colors = color_map(list(dict.fromkeys([*order, *pd.unique(long["group"].dropna())])),
                        translated_colors(GROUP_COLORS, words))
    hover = "=%{y}<br>" + _("customers") + "=%{x}<br>item_id=%{customdata[0]}<extra></extra>"
    data = [{"type": "bar", "x": rows["customers"].to_numpy(), "y": rows["offer"].to_numpy(), "orientation": "h",
             "name": str(group), "legendgroup": str(group), "showlegend": True, "textposition": "auto",
             "customdata": rows[["item_id"]].to_numpy(), "marker": {"color": colors[group], "pattern": {"shape": ""}},
             "hovertemplate": hover, "xaxis": "x", "yaxis": "y"} for group, rows in trace_groups(long, "group", order)]
    return build_figure(data, _("Coupons per offer: sent (treatment) and held out (control)"),
                   height=max(260, 40 * len(sizes) + 110), barmode="stack", legend={"tracegroupgap": 0},
                   **plot_axes({"title": None}, {"title": {"text": ""}}))


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
        return style_figure(go.Figure(), _("No scores to show"))
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
    return build_figure(data, title, height=height, barmode="overlay", legend={"tracegroupgap": 0},
                   annotations=annotations[::-1], margin=panel_name_margin(title), **axes)


def panel_name_margin(title: str) -> dict[str, int]:
    """The margins of a figure whose top panel has its name above it: room for the name under the title."""
    return {"l": 10, "r": MODEBAR_MARGIN, "t": (65 if "<br>" in title else 45) + PANEL_NAME_HEIGHT, "b": 10}


def group_mix(mix: pd.DataFrame, column: str) -> go.Figure:
    """Stacked bars: share of each offer's targeted customers by the values of one customer column."""
    colors = color_map(list(pd.unique(mix["value"].dropna())), sequence=PALETTE)
    hover = ("=%{y}<br>" + _("share of targeted customers") + "=%{x}<br>" + _("customers")
             + "=%{customdata[0]}<extra></extra>")
    data = [{"type": "bar", "x": rows["share"].to_numpy(), "y": rows["offer"].to_numpy(), "orientation": "h",
             "name": str(value), "legendgroup": str(value), "showlegend": True, "textposition": "auto",
             "customdata": rows[["customers"]].to_numpy(), "marker": {"color": colors[value], "pattern": {"shape": ""}},
             "hovertemplate": hover, "xaxis": "x", "yaxis": "y"} for value, rows in trace_groups(mix, "value")]
    return build_figure(data, _("Share of each offer's targeted customers, by {column}").format(column=column_words(column)),
                   height=max(260, 40 * mix["offer"].nunique() + 120), barmode="stack", legend={"tracegroupgap": 0},
                   **plot_axes({"title": None, "tickformat": ".0%"}, {"title": {"text": ""}}))


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
    return build_figure(data, _("Share of each {column} group targeted (red: below four-fifths)").format(column=column_words(column)),
                   shapes=shapes, annotations=annotations, xaxis={"title": None},
                   yaxis={"tickformat": ".0%", "title": {"text": _("share of the group targeted")}, "rangemode": "tozero"})
