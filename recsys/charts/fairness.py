"""The Fairness page's charts (``recsys.insight.audit``): disparate impact, favourable offers past against
the model, a metric per group with intervals, exposure shares, the Lorenz curve and the re-ranking
trade-off. No Streamlit here."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from recsys.core.i18n import N_
from recsys.core.i18n import gettext as _
from recsys.insight.rules import column_words
from recsys.charts.style import FLAG_COLOR, style_figure, translated_colors


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
        return style_figure(go.Figure(), _("No favourable offers to compare"))
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
    return style_figure(fig, _("Who is offered {what}, by {column} (red: below four-fifths)").format(
                      what=what, column=column_words(column)),
                  height=max(260, 36 * len(shown) + 120))


def favourable_history(tables: dict[str, pd.DataFrame], column: str, what: str) -> go.Figure:
    """Grouped bars per customer group: share of favourable offers shown / responded in the past
    and offered by the model (``tables``: series name -> ``recsys.insight.groups.offer_rates`` output)."""
    frames = [t.assign(series=name)[["group", "rate", "series"]] for name, t in tables.items() if not t.empty]
    if not frames:
        return style_figure(go.Figure(), _("No history to compare"))
    long = pd.concat(frames, ignore_index=True).dropna(subset=["rate"])
    words = {name: _(HISTORY_NAMES[name]) if name in HISTORY_NAMES else name for name in tables}
    long["series"] = long["series"].map(words)
    order = sorted(long["group"].astype(str).unique())
    fig = px.bar(
        long, x="group", y="rate", color="series", barmode="group", text=long["rate"].map("{:.0%}".format),
        color_discrete_map=translated_colors(HISTORY_COLORS, words),
        category_orders={"group": order, "series": [words[t] for t in tables]},
        labels={"group": "", "rate": _("share of offers that are {what}").format(what=what), "series": ""},
    )
    fig.update_traces(textposition="outside", cliponaxis=False)
    fig.update_yaxes(tickformat=".0%", rangemode="tozero")
    return style_figure(fig, _("{what}: the past against the model, by {column}").format(
        what=what.capitalize(), column=column_words(column)), height=380)


def group_metric_intervals(table: pd.DataFrame, column: str, metric: str) -> go.Figure:
    """Dot-and-whisker chart of one metric per customer group with its bootstrap interval.

    ``table`` is ``recsys.insight.groups.group_table`` output; the dotted line is the mean over all customers.
    """
    rows = table[(table["metric"] == metric) & (table["customers"] > 0)].sort_values("mean", kind="stable")
    if rows.empty:
        return style_figure(go.Figure(), _("No {metric} to show").format(metric=metric))
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
    return style_figure(fig, _("{metric} by {column} (whiskers: 95% intervals)").format(metric=metric, column=column_words(column)),
                  height=max(240, 34 * len(rows) + 110))


def exposure_shares(table: pd.DataFrame, column: str) -> go.Figure:
    """Per offer group: share of recommendation slots against share of catalogue and past interactions."""
    if table.empty:
        return style_figure(go.Figure(), _("No offer groups to show"))
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
    return style_figure(fig, _("Exposure by {column}: slots against catalogue and history").format(column=column_words(column)),
                  height=max(300, 26 * len(table) * max(len(present), 1) // 2 + 140))


def lorenz_curve(exposure: pd.Series, gini: float | None = None) -> go.Figure:
    """Lorenz curve of recommendation slots over offers (least-shown first), with the equality line."""
    counts = pd.Series(exposure, dtype=float).sort_values().to_numpy()
    if len(counts) == 0 or counts.sum() <= 0:
        return style_figure(go.Figure(), _("No exposure to show"))
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
    return style_figure(fig, title, height=360)


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
        return style_figure(go.Figure(), _("No trade-off to show"))
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
    return style_figure(fig, _("Trade-off: {y} against {x} (labels: strength)").format(y=y_label or y, x=x_label or x),
                  height=420)
