"""The charts' template: plotly_white's look, cheaper to copy, and the same figure with it as plotly's default."""

from __future__ import annotations

import json

import pandas as pd
import plotly.io as pio
import pytest

from recsys.charts import attribution, audience, segments, style


def figures() -> dict[str, object]:
    sizes = pd.DataFrame({"segment": ["a", "b", "c"], "customers": [5, 3, 2], "share": [0.5, 0.3, 0.2]})
    lift = pd.DataFrame({"column": ["region"] * 3, "value_label": list("xyz"), "lift": [1.2, 1.5, 0.8],
                         "share": [0.1, 0.2, 0.3], "base_share": [0.2] * 3})
    rates = pd.DataFrame({"segment": ["a", "a", "b", "b"], "type": ["p", "q", "p", "q"], "click_rate": [0.1, 0.2, 0.3, 0.4]})
    points = pd.DataFrame({"user_id": ["u1", "u2", "u3"], "x": [0.0, 1, 2], "y": [1.0, 0, 2], "segment": ["a", "b", "a"]})
    return {
        "bars": segments.segment_sizes(sizes, ["a", "b", "c"]), "lift": segments.segment_lift_bars(lift, "lift"),
        "line": segments.silhouette_curve(pd.DataFrame({"k": [3, 4, 5], "silhouette": [0.1, 0.2, 0.15]}), 4),
        "heatmap": segments.response_heatmap(rates, "type", "click_rate", ["a", "b"]),
        "webgl": segments.customer_map(points, "segment", ["a", "b"], "map"),
        "go bars": audience.audience_funnel(pd.DataFrame({"step": ["scored", "eligible"], "customers": [100, 50]})),
        "spread": attribution.attribution_spread(
            pd.DataFrame({"contributor": ["a = 1", "own history", "own history"], "attribution": [0.5, -0.2, 0.1],
                          "customers": [7, 3, 4]}),
            pd.DataFrame({"contributor": ["a = 1", "own history"], "customers": [7, 7], "mean": [0.5, -0.03]}), "drivers"),
    }


def test_the_template_is_plotly_white_for_every_trace_type_the_charts_draw() -> None:
    white = pio.templates["plotly_white"].to_plotly_json()
    ours = pio.templates[style.TEMPLATE].to_plotly_json()
    assert ours["layout"] == white["layout"]
    assert ours["data"] == {k: v for k, v in white["data"].items() if k in style.TRACE_TYPES}
    assert len(ours["data"]) < len(white["data"]) / 3  # the point: a third of the copying
    drawn = {trace.type for fig in figures().values() for trace in fig.data}
    assert drawn <= set(style.TRACE_TYPES) and {"bar", "scatter", "scattergl", "heatmap"} <= drawn


def test_a_figure_is_the_same_with_the_template_as_plotly_default(monkeypatch: pytest.MonkeyPatch) -> None:
    before = {name: json.loads(fig.to_json()) for name, fig in figures().items()}
    monkeypatch.setattr(pio.templates, "default", pio.templates.default)  # restored after the test
    style.use_template_by_default()
    assert pio.templates.default == style.TEMPLATE
    after = {name: json.loads(fig.to_json()) for name, fig in figures().items()}
    assert after == before
    assert all(fig["layout"]["template"]["layout"]["plot_bgcolor"] == "white" for fig in after.values())


# ------------------------------------------------ the one-pass builders draw what plotly.express drew
def _hist() -> pd.DataFrame:
    return pd.DataFrame({"item_id": ["i1"] * 3 + ["i2"] * 3 + ["i3"] * 3 + ["i4"] * 2,
                         "bin_low": [0, .1, .2] * 3 + [.5, .6], "bin_high": [.1, .2, .3] * 3 + [.6, .7],
                         "scored": [5, 6, 7, 1, 2, 3, 4, 4, 4, 9, 9], "targeted": [0, 1, 2, 0, 0, 3, 1, 1, 1, 5, 0]})


def reference_cases() -> dict[str, tuple[str, tuple]]:
    """name -> (builder, arguments): every Segments and Campaign chart, with the awkward inputs."""
    sizes = pd.DataFrame({"segment": ["a", "b", "c"], "customers": [5, 3, 2], "share": [0.5, 0.3, 0.2]})
    trend = pd.DataFrame({"period": pd.to_datetime(["2026-01-01", "2026-02-01"] * 3), "segment": list("aabbzz"),
                          "customers": [3, 4, 5, 6, 1, 2]})
    lift = pd.DataFrame({"column": ["home_region"] * 3, "value_label": list("xyz"), "lift": [1.2, 1.5, 0.8],
                         "share": [0.1, 0.2, 0.3], "base_share": [0.2] * 3})
    points = pd.DataFrame({"user_id": ["u1", "u2", "u3", "u4"], "x": [0.0, 1, 2, 3], "y": [1.0, 0, 2, 1],
                           "segment": ["a", "b", "a", "(not segmented)"]})
    compared = pd.DataFrame({"value_label": ["x", "x", "x", "y", "y", "y"], "who": ["A", "B", "everyone"] * 2,
                             "share": [.1, .2, .3, .4, .5, .6]})
    grid = pd.DataFrame({"r_score": [1, 1, 2, 2], "f_score": [1, 2, 1, 2], "customers": [10, 2000, 3, 4],
                         "segment": ["lost", "at risk", "new", "champions"]})
    rates = pd.DataFrame({"segment": ["a", "a", "b", "b"], "type": ["p", "q", "p", "q"], "click_rate": [0.1, 0.2, 0.3, None],
                          "value_per_customer": [1.5, 2000.0, 3.0, 4.0]})
    funnel = pd.DataFrame({"step": ["chosen offers", "score >= 0.1", "treatment", "control"], "customers": [100, 50, 40, 10]})
    audience = pd.DataFrame({"item_id": ["i1", "i2"], "offer": ["Offer 1", "Offer 2"], "treatment": [10, 20], "control": [1, 2]})
    mix = pd.DataFrame({"offer": ["O1", "O1", "O2", "O2", "O2"], "value": ["north", "south", "north", "south", "(missing)"],
                        "share": [.4, .6, .5, .3, .2], "customers": [4, 6, 5, 3, 2]})
    selection = pd.DataFrame({"value": ["f", "m", "x"], "rate": [0.2, 0.1, 0.3], "targeted": [20, 10, 3],
                              "base": [100, 100, 10], "ratio": [1.0, 0.5, None], "flag": [False, True, False]})
    return {
        "sizes": ("segment_sizes", (sizes, ["a", "b", "c"])),
        "sizes, a label without customers": ("segment_sizes", (sizes, ["c", "a", "d", "b"], "Who")),
        "trend": ("segment_trend", (trend, ["b", "a"], "Trend")),
        "trend, empty": ("segment_trend", (trend.iloc[0:0], ["a"], "Trend")),
        "rfm grid": ("rfm_grid", (grid,)),
        "response rates": ("response_heatmap", (rates, "type", "click_rate", ["b", "a", "c"])),
        "response value": ("response_heatmap", (rates, "type", "value_per_customer", ["a", "b"])),
        "map": ("customer_map", (points, "segment", ["b", "a"], "map")),
        "lift": ("segment_lift_bars", (lift, "Traits")),
        "lift, empty": ("segment_lift_bars", (lift.iloc[0:0], "Traits")),
        "comparison": ("segment_comparison", (compared, "home_region", "A", "B")),
        "comparison, one segment twice": ("segment_comparison", (compared[compared["who"] != "B"], "region", "A", "A")),
        "silhouette": ("silhouette_curve", (pd.DataFrame({"k": [2, 3, 4, 5], "silhouette": [0.3, 0.1, 0.2, 0.15]}), 4)),
        "funnel": ("audience_funnel", (funnel,)),
        "audience sizes": ("audience_sizes", (audience,)),
        "scores": ("score_distribution", (_hist(), {"i1": "Offer one", "i3": "Offer one"})),
        "scores, probabilities, some offers": ("score_distribution", (_hist(), None, 2, True)),
        "scores, one offer": ("score_distribution", (_hist()[_hist()["item_id"] == "i2"],)),
        "scores, empty": ("score_distribution", (_hist().iloc[0:0],)),
        "mix": ("group_mix", (mix, "home_region")),
        "selection": ("selection_rates", (selection, "gender")),
        "selection, nobody judged": ("selection_rates", (selection.assign(ratio=None), "gender")),
    }


def without_empty_objects(value: object) -> object:
    """``value`` without its empty objects: plotly.express leaves ``"title": {}`` where it removed a title,
    and plotly.js reads an empty object as an absent one (nothing set, the defaults drawn)."""
    if isinstance(value, dict):
        kept = {k: without_empty_objects(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v != {}}
    if isinstance(value, list):
        return [without_empty_objects(v) for v in value]
    return value


@pytest.mark.parametrize("language", ["en", "zh_CN"])
@pytest.mark.parametrize("case", list(reference_cases()))
def test_a_one_pass_builder_draws_the_same_figure_as_plotly_express(case: str, language: str) -> None:
    from recsys.core.i18n import use_language
    from tests import px_charts

    builder, args = reference_cases()[case]
    module = segments if hasattr(segments, builder) else audience
    with use_language(language):
        ours = json.loads(getattr(module, builder)(*args).to_json())
        reference = json.loads(getattr(px_charts, builder)(*args).to_json())
    assert without_empty_objects(ours) == without_empty_objects(reference)
    assert ours["layout"]["title"]["text"]


def test_the_drivers_spread_is_one_trace_of_binned_dots_whatever_the_customers() -> None:
    summary = pd.DataFrame({"contributor": ["a = 1", "own history"], "customers": [7, 7], "mean": [0.5, -0.03]})
    spread = pd.DataFrame({"contributor": ["a = 1", "own history", "own history"], "attribution": [0.5, -0.2, 0.1],
                           "customers": [7, 3, 4]})
    fig = attribution.attribution_spread(spread, summary, "drivers")
    bars, dots = fig.data
    assert (bars.type, dots.type) == ("bar", "scatter") and list(dots.customdata) == [7, 3, 4]
    assert list(dots.y) == ["a = 1  (7)", "own history  (7)", "own history  (7)"]  # rows labelled as the bars
    sizes = list(dots.marker.size)
    assert sizes[0] > sizes[2] > sizes[1]  # a dot's size grows with its share of the trait's customers
