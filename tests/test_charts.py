"""The charts' template: plotly_white's look, cheaper to copy, and the same figure with it as plotly's default."""

from __future__ import annotations

import json

import pandas as pd
import plotly.io as pio
import pytest

from recsys import charts


def figures() -> dict[str, object]:
    sizes = pd.DataFrame({"segment": ["a", "b", "c"], "customers": [5, 3, 2], "share": [0.5, 0.3, 0.2]})
    lift = pd.DataFrame({"column": ["region"] * 3, "value_label": list("xyz"), "lift": [1.2, 1.5, 0.8],
                         "share": [0.1, 0.2, 0.3], "base_share": [0.2] * 3})
    rates = pd.DataFrame({"segment": ["a", "a", "b", "b"], "type": ["p", "q", "p", "q"], "click_rate": [0.1, 0.2, 0.3, 0.4]})
    points = pd.DataFrame({"user_id": ["u1", "u2", "u3"], "x": [0.0, 1, 2], "y": [1.0, 0, 2], "segment": ["a", "b", "a"]})
    return {
        "bars": charts.segment_sizes(sizes, ["a", "b", "c"]), "lift": charts.segment_lift_bars(lift, "lift"),
        "line": charts.silhouette_curve(pd.DataFrame({"k": [3, 4, 5], "silhouette": [0.1, 0.2, 0.15]}), 4),
        "heatmap": charts.response_heatmap(rates, "type", "click_rate", ["a", "b"]),
        "webgl": charts.customer_map(points, "segment", ["a", "b"], "map"),
        "go bars": charts.audience_funnel(pd.DataFrame({"step": ["scored", "eligible"], "customers": [100, 50]})),
        "spread": charts.attribution_spread(
            pd.DataFrame({"contributor": ["a = 1", "own history", "own history"], "attribution": [0.5, -0.2, 0.1],
                          "customers": [7, 3, 4]}),
            pd.DataFrame({"contributor": ["a = 1", "own history"], "customers": [7, 7], "mean": [0.5, -0.03]}), "drivers"),
    }


def test_the_template_is_plotly_white_for_every_trace_type_the_charts_draw() -> None:
    white = pio.templates["plotly_white"].to_plotly_json()
    ours = pio.templates[charts.TEMPLATE].to_plotly_json()
    assert ours["layout"] == white["layout"]
    assert ours["data"] == {k: v for k, v in white["data"].items() if k in charts.TRACE_TYPES}
    assert len(ours["data"]) < len(white["data"]) / 3  # the point: a third of the copying
    drawn = {trace.type for fig in figures().values() for trace in fig.data}
    assert drawn <= set(charts.TRACE_TYPES) and {"bar", "scatter", "scattergl", "heatmap"} <= drawn


def test_a_figure_is_the_same_with_the_template_as_plotly_default(monkeypatch: pytest.MonkeyPatch) -> None:
    before = {name: json.loads(fig.to_json()) for name, fig in figures().items()}
    monkeypatch.setattr(pio.templates, "default", pio.templates.default)  # restored after the test
    charts.use_template_by_default()
    assert pio.templates.default == charts.TEMPLATE
    after = {name: json.loads(fig.to_json()) for name, fig in figures().items()}
    assert after == before
    assert all(fig["layout"]["template"]["layout"]["plot_bgcolor"] == "white" for fig in after.values())


def test_the_drivers_spread_is_one_trace_of_binned_dots_whatever_the_customers() -> None:
    summary = pd.DataFrame({"contributor": ["a = 1", "own history"], "customers": [7, 7], "mean": [0.5, -0.03]})
    spread = pd.DataFrame({"contributor": ["a = 1", "own history", "own history"], "attribution": [0.5, -0.2, 0.1],
                           "customers": [7, 3, 4]})
    fig = charts.attribution_spread(spread, summary, "drivers")
    bars, dots = fig.data
    assert (bars.type, dots.type) == ("bar", "scatter") and list(dots.customdata) == [7, 3, 4]
    assert list(dots.y) == ["a = 1  (7)", "own history  (7)", "own history  (7)"]  # rows labelled as the bars
    sizes = list(dots.marker.size)
    assert sizes[0] > sizes[2] > sizes[1]  # a dot's size grows with its share of the trait's customers
