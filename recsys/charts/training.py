"""The Train page's charts: the model against the baselines, learning curves, a metric per customer group,
calibration (predicted against observed response) and freshness since training. No Streamlit here."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from recsys.core.i18n import N_
from recsys.core.i18n import gettext as _
from recsys.core.words import NAME_WORDS, metric_label
from recsys.insight.rules import column_words
from recsys.charts.style import style_figure, translated_colors


#: Model names in legends (the colour maps are keyed by the canonical name).
MODEL_NAMES = {"hybrid": N_("hybrid"), "collaborative": N_("collaborative"), "popularity": N_("popularity"),
               "random": N_("random")}
#: Training phases of a learning curve.
PHASES = {"early_stopping": N_("early stopping"), "refit": N_("refit"), "fit": N_("fit")}


def model_words(name: object) -> str:
    """A model's name in the current language (names outside ``core.words.NAME_WORDS`` stay as they are)."""
    text = str(name)
    if text in MODEL_NAMES:
        return _(MODEL_NAMES[text])
    return _(text) if text in NAME_WORDS else text


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
        color_discrete_map=translated_colors(MODEL_COLORS, {m: model_words(m) for m in MODEL_COLORS}),
        labels={"metric": "", "value": "", "model": ""},
    )
    fig.update_traces(textposition="outside", cliponaxis=False)
    return style_figure(fig, _("The model against the baselines (higher is better)"), height=380)


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
    return style_figure(fig, _("Still ahead of 'most popular'? {metric}").format(metric=metric_label(f"precision@{k}")),
                  height=340)


def epoch_curve(epochs: pd.DataFrame, metric: str) -> go.Figure:
    """Validation metric per epoch, one line per model and phase."""
    frame = epochs.dropna(subset=[metric]) if metric in epochs.columns else epochs.iloc[0:0]
    if frame.empty:
        return style_figure(go.Figure(), _("No validation curve (early stopping was off)"))
    phases = frame["phase"].astype(str).map(lambda p: _(PHASES[p]) if p in PHASES else p.replace("_", " "))
    label = frame["model"].map(model_words) + " (" + phases + ")"
    shown = metric_label(metric)
    fig = px.line(
        frame.assign(line=label), x="epoch", y=metric, color="line", markers=True,
        labels={"epoch": _("epoch"), metric: _("validation {metric}").format(metric=shown), "line": ""},
    )
    return style_figure(fig, _("Learning curve: validation {metric} per epoch").format(metric=shown))


def metric_by_group(frame: pd.DataFrame, column: str, metric: str) -> go.Figure:
    """Bars of a per-user metric averaged per customer group, per model."""
    frame = frame.assign(model=frame["model"].map(model_words))
    fig = px.bar(
        frame, x=column, y="mean", color="model", barmode="group", hover_data=["count"],
        color_discrete_map=translated_colors(MODEL_COLORS, {m: model_words(m) for m in MODEL_COLORS}),
        labels={"mean": metric_label(metric), column: column_words(column), "model": "", "count": _("customers")},
    )
    return style_figure(fig, _("{metric} by {column}").format(metric=metric_label(metric), column=column_words(column)))


RELIABILITY_COLORS = {"predicted": "#1e88e5", "observed": "#43a047"}


def reliability_chart(deciles: pd.DataFrame, title: str = N_("Do the predicted chances come true?")) -> go.Figure:
    """Predicted against observed response rate (%) per tenth of customer x offer pairs, from a
    reliability table (``decile``, ``mean_predicted``, ``observed_rate``, ``rows``)."""
    if deciles is None or not len(deciles):
        return style_figure(go.Figure(), _("No calibration figures for this run"))
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
    return style_figure(fig, _(title), height=380)
