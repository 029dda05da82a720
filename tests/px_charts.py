"""The Segments and Campaign chart builders as they were drawn with ``plotly.express`` (then styled by
``update_*`` calls): the slow reference that ``tests/test_charts.py`` holds the one-pass builders of
:mod:`recsys.charts.segments` and :mod:`recsys.charts.audience` to, figure for figure (the same JSON is the
same chart in the browser)."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import plotly.io as pio

from recsys.charts.audience import GROUP_COLORS, GROUP_NAMES, funnel_words, panel_name_margin
from recsys.charts.segments import RESPONSE_METRICS, segment_colors
from recsys.charts.style import FLAG_COLOR, MODEBAR_MARGIN, PALETTE, TEMPLATE, wrap_title
from recsys.core.i18n import N_
from recsys.core.i18n import gettext as _
from recsys.insight.rules import column_words


def _translated_colors(colors: dict[str, str], words: dict[str, str]) -> dict[str, str]:
    return {words.get(k, k): v for k, v in colors.items()}


def _style(fig: go.Figure, title: str, height: int = 340) -> go.Figure:
    title = wrap_title(title)
    template = {} if pio.templates.default == TEMPLATE else {"template": TEMPLATE}
    fig.update_layout(
        title={"text": title, "x": 0, "xanchor": "left", "font": {"size": 15}},
        height=height, **template,
        margin={"l": 10, "r": MODEBAR_MARGIN, "t": 65 if "<br>" in title else 45, "b": 10},
        legend={"orientation": "h", "y": -0.18, "title": None},
        modebar={"orientation": "v", "bgcolor": "rgba(255,255,255,0)"},
    )
    return fig


def segment_sizes(sizes: pd.DataFrame, order: list[str], title: str = N_("Customers per segment")) -> go.Figure:
    """Horizontal bars of customers per segment (``segment``, ``customers``, ``share``), in display order."""
    frame = sizes.set_index("segment").reindex(order).dropna(subset=["customers"]).reset_index()
    fig = px.bar(
        frame, x="customers", y="segment", orientation="h", color="segment",
        color_discrete_map=segment_colors(order), text=frame["share"].map("{:.0%}".format),
        labels={"customers": _("customers"), "segment": ""},
    )
    fig.update_layout(showlegend=False)
    fig.update_traces(textangle=0)  # a share that does not fit in its bar goes beside it, not turned on its side
    fig.update_yaxes(categoryorder="array", categoryarray=list(reversed(order)))
    return _style(fig, _(title), height=max(260, 26 * len(frame) + 90))


def segment_trend(frame: pd.DataFrame, order: list[str], title: str) -> go.Figure:
    """Lines of customers per period and segment (``period``, ``segment``, ``customers``)."""
    if frame.empty:
        return _style(go.Figure(), _("No dates in this dataset, so no trend"))
    fig = px.line(
        frame, x="period", y="customers", color="segment", markers=True,
        category_orders={"segment": order}, color_discrete_map=segment_colors(order),
        labels={"period": "", "customers": _("customers"), "segment": ""},
    )
    return _style(fig, title, height=360)


def rfm_grid(grid: pd.DataFrame) -> go.Figure:
    """Heatmap of customers per recency score x frequency score, each cell named by its RFM segment."""
    counts = grid.pivot(index="r_score", columns="f_score", values="customers").sort_index(ascending=False)
    names = grid.pivot(index="r_score", columns="f_score", values="segment").sort_index(ascending=False)
    text = names.astype(str) + "<br>" + counts.astype(int).map("{:,}".format)
    fig = go.Figure(go.Heatmap(
        z=counts.to_numpy(), x=[str(c) for c in counts.columns], y=[str(r) for r in counts.index],
        text=text.to_numpy(), texttemplate="%{text}", colorscale="Blues", showscale=False,
        hovertemplate="R %{y} · F %{x}<br>%{text}<extra></extra>",
    ))
    fig.update_xaxes(title=_("frequency score (5 = most occasions)"))
    fig.update_yaxes(title=_("recency score (5 = most recent)"))
    return _style(fig, _("RFM grid: customers per recency x frequency score"), height=420)


def response_heatmap(frame: pd.DataFrame, column: str, metric: str, order: list[str]) -> go.Figure:
    """Heatmap of one response metric per segment (rows) x offer type (columns), values written in."""
    table = frame.pivot(index="segment", columns=column, values=metric)
    table = table.reindex(index=[s for s in order if s in table.index], columns=list(dict.fromkeys(frame[column])))
    is_rate = metric.endswith("_rate")
    text = table.map(lambda v: "" if pd.isna(v) else (f"{v:.1%}" if is_rate else f"{v:,.1f}"))
    fig = go.Figure(go.Heatmap(
        z=table.to_numpy(), x=[str(c) for c in table.columns], y=list(table.index), text=text.to_numpy(),
        texttemplate="%{text}", colorscale="YlGnBu", colorbar={"title": _(RESPONSE_METRICS.get(metric, metric))},
        hovertemplate="%{y} · %{x}: %{text}<extra></extra>",
    ))
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(title=column_words(column))
    label = _(RESPONSE_METRICS.get(metric, metric))
    return _style(fig, _("{metric} by segment and {column}").format(metric=label.capitalize(), column=column_words(column)),
                  height=max(300, 34 * len(table) + 120))


def customer_map(frame: pd.DataFrame, color: str, order: list[str], title: str) -> go.Figure:
    """Scatter (WebGL) of customers on the 2-D map (``x``, ``y``, ``user_id``), coloured by segment.

    Each point carries its ``user_id`` as custom data, so a lasso or box selection names customers.
    """
    fig = px.scatter(
        frame, x="x", y="y", color=color, custom_data=["user_id"], render_mode="webgl",
        category_orders={color: order}, color_discrete_map=segment_colors(order), opacity=0.7,
        hover_data={"user_id": True, "x": False, "y": False}, labels={color: ""},
    )
    fig.update_traces(marker={"size": 5})
    fig.update_xaxes(showticklabels=False, title=None)
    fig.update_yaxes(showticklabels=False, title=None)
    fig.update_layout(dragmode="lasso")
    return _style(fig, title, height=520)


def segment_lift_bars(frame: pd.DataFrame, title: str) -> go.Figure:
    """Horizontal bars of the lift of trait / offer-type values (1 = like everyone)."""
    if frame.empty:
        return _style(go.Figure(), _("{title}: nothing stands out").format(title=title))
    shown = frame.assign(label=frame["column"].astype(str).map(column_words) + ": " + frame["value_label"].astype(str))
    shown = shown.sort_values("lift")
    fig = px.bar(
        shown, x="lift", y="label", orientation="h", text=shown["lift"].map("×{:.1f}".format),
        hover_data={"share": ":.1%", "base_share": ":.1%", "label": False},
        color_discrete_sequence=PALETTE[4:],
        labels={"lift": _("lift vs all customers"), "label": "", "share": _("share"), "base_share": _("share of everyone")},
    )
    fig.add_vline(x=1, line_dash="dot", line_color="grey")
    return _style(fig, title, height=max(220, 30 * len(shown) + 90))


def segment_comparison(frame: pd.DataFrame, column: str, a: str, b: str) -> go.Figure:
    """Grouped bars: share of each value of ``column`` in segment A, segment B and everyone."""
    everyone = _("everyone")
    frame = frame.assign(who=frame["who"].replace({"everyone": everyone}))
    colors = {a: PALETTE[0], b: PALETTE[1], everyone: "#bbbbbb"}
    fig = px.bar(
        frame, x="value_label", y="share", color="who", barmode="group", color_discrete_map=colors,
        category_orders={"who": [a, b, everyone]},
        labels={"value_label": column_words(column), "share": _("share"), "who": ""},
    )
    fig.update_yaxes(tickformat=".0%")
    return _style(fig, _("{column}: {a} vs {b}").format(column=column_words(column).capitalize(), a=a, b=b))


def silhouette_curve(frame: pd.DataFrame, chosen: int) -> go.Figure:
    """Silhouette score per number of clusters, the chosen k marked."""
    fig = px.line(frame, x="k", y="silhouette", markers=True,
                  labels={"k": _("clusters"), "silhouette": _("silhouette")})
    mine = frame[frame["k"] == chosen]
    fig.add_scatter(x=mine["k"], y=mine["silhouette"], mode="markers", marker={"size": 14, "color": PALETTE[1]},
                    name=_("chosen: {k}").format(k=chosen))
    fig.update_xaxes(dtick=1)
    return _style(fig, _("How well separated are k clusters? (higher is better)"), height=280)


def audience_funnel(funnel: pd.DataFrame) -> go.Figure:
    """Horizontal bars of customers left after each eligibility step (``step``, ``customers``)."""
    steps = funnel["step"].astype(str).map(funnel_words)
    fig = go.Figure(go.Bar(
        x=funnel["customers"], y=steps, orientation="h", text=funnel["customers"].map("{:,}".format),
        textposition="auto", marker_color=[GROUP_COLORS.get(s, PALETTE[0]) for s in funnel["step"]],
        hovertemplate="%{y}: " + _("%{x:,} customers") + "<extra></extra>",
    ))
    fig.update_yaxes(autorange="reversed", title=None)
    fig.update_xaxes(title=_("customers"))
    return _style(fig, _("Who is left after each rule"), height=max(260, 34 * len(funnel) + 90))


def audience_sizes(sizes: pd.DataFrame) -> go.Figure:
    """Stacked bars of coupons per offer: treatment (sent) and control (held out, grey)."""
    long = sizes.melt(id_vars=["item_id", "offer"], value_vars=["treatment", "control"], var_name="group",
                      value_name="customers")
    words = {g: _(GROUP_NAMES[g]) for g in GROUP_NAMES}
    long["group"] = long["group"].map(words)
    fig = px.bar(
        long, x="customers", y="offer", color="group", orientation="h",
        color_discrete_map=_translated_colors(GROUP_COLORS, words),
        hover_data=["item_id"], labels={"offer": "", "customers": _("customers"), "group": ""},
        category_orders={"group": [words["treatment"], words["control"]]},
    )
    fig.update_layout(barmode="stack")
    fig.update_xaxes(title=None)
    return _style(fig, _("Coupons per offer: sent (treatment) and held out (control)"), height=max(260, 40 * len(sizes) + 110))


def score_distribution(histogram: pd.DataFrame, names: dict[str, str] | None = None, max_offers: int = 6,
                       probability: bool = False) -> go.Figure:
    """Per offer: model scores of every scored customer (grey) and of the targeted ones (blue).

    ``histogram`` has ``item_id``, ``bin_low``, ``bin_high``, ``scored`` and ``targeted``; only the
    ``max_offers`` offers with the most targeted customers are drawn (one small panel each).
    """
    if histogram.empty:
        return _style(go.Figure(), _("No scores to show"))
    totals = histogram.groupby("item_id", sort=False)["targeted"].sum().sort_values(ascending=False, kind="stable")
    shown = list(totals.index[:max_offers])
    more = len(totals) - len(shown)
    histogram = histogram[histogram["item_id"].isin(shown)]
    frame = histogram.assign(
        offer=histogram["item_id"].astype(str).map(names or {}).fillna(histogram["item_id"].astype(str)),
        middle=(histogram["bin_low"] + histogram["bin_high"]) / 2, width=histogram["bin_high"] - histogram["bin_low"],
    )
    long = frame.melt(id_vars=["offer", "middle", "width"], value_vars=["scored", "targeted"], var_name="who",
                      value_name="customers")
    scored, targeted = _("all scored"), _("targeted")
    long["who"] = long["who"].map({"scored": scored, "targeted": targeted})
    offers = [o for o in dict.fromkeys(frame.set_index("item_id").loc[shown, "offer"])]
    height = max(280, 130 * len(offers) + 110)
    fig = px.bar(
        long, x="middle", y="customers", color="who", facet_row="offer", barmode="overlay", opacity=0.85,
        color_discrete_map={scored: "#cfd8dc", targeted: GROUP_COLORS["treatment"]},
        category_orders={"offer": offers, "who": [scored, targeted]},
        labels={"middle": _("chance to redeem") if probability else _("model score"), "who": "",
                "customers": _("customers"), "offer": _("offer")},
        facet_row_spacing=min(0.1, 36 / height),
    )
    fig.update_traces(width=float(frame["width"].median()) if len(frame) else None)
    fig.update_yaxes(matches=None, title=None)
    tops = [ax.domain[1] for ax in fig.select_yaxes()]
    fig.for_each_annotation(lambda a: a.update(  # each offer's name just above its panel
        text=a.text.split("=", 1)[-1], textangle=0, x=0, xanchor="left", yanchor="bottom",
        y=min(tops, key=lambda top: abs(top - a.y) if top >= a.y else 2.0),
    ))
    if probability:
        fig.update_xaxes(tickformat=".0%")
    title = (_("Chance to redeem: every eligible customer and those who get a coupon") if probability
             else _("Score distribution: who the model picks (higher = better fit)"))
    if more > 0:
        title += _(" — the {n} offers with most coupons ({more} more not shown)").format(n=len(shown), more=more)
    return _style(fig, title, height=height).update_layout(margin=panel_name_margin(wrap_title(title)))


def group_mix(mix: pd.DataFrame, column: str) -> go.Figure:
    """Stacked bars: share of each offer's targeted customers by the values of one customer column."""
    fig = px.bar(
        mix, x="share", y="offer", color="value", orientation="h", color_discrete_sequence=PALETTE,
        hover_data=["customers"],
        labels={"share": _("share of targeted customers"), "offer": "", "value": "", "customers": _("customers")},
    )
    fig.update_layout(barmode="stack", xaxis_tickformat=".0%")
    fig.update_xaxes(title=None)
    return _style(fig, _("Share of each offer's targeted customers, by {column}").format(column=column_words(column)),
                  height=max(260, 40 * mix["offer"].nunique() + 120))


def selection_rates(table: pd.DataFrame, column: str, threshold: float = 0.8) -> go.Figure:
    """Share of each customer group targeted; red bars fall below the four-fifths line (dashed)."""
    colors = [FLAG_COLOR if flag else PALETTE[0] for flag in table["flag"]]
    fig = go.Figure(go.Bar(
        x=table["value"].astype(str), y=table["rate"], marker_color=colors, text=table["rate"].map("{:.1%}".format),
        textposition="outside", customdata=table[["targeted", "base"]],
        hovertemplate="%{x}: %{y:.1%}<br>" + _("%{customdata[0]:,} of %{customdata[1]:,} customers") + "<extra></extra>",
    ))
    judged = table.loc[table["ratio"].notna(), "rate"]
    if len(judged):
        best = float(judged.max())
        fig.add_hline(y=threshold * best, line_dash="dash", line_color=FLAG_COLOR,
                      annotation_text=_("four-fifths of the top group"), annotation_position="top right")
    fig.update_yaxes(tickformat=".0%", title=_("share of the group targeted"), rangemode="tozero")
    fig.update_xaxes(title=None)
    return _style(fig, _("Share of each {column} group targeted (red: below four-fifths)").format(column=column_words(column)))
