"""Charts: plotly figure builders, pure functions, data in, figure out. No Streamlit here.

One module a page, each with the words its charts show, translated:

* :mod:`~recsys.charts.style` - the shared look: palette, the ``promolens_white`` template (plotly_white for
  the trace types the charts draw), titles, margins, legends and the one-pass helpers (``go.Figure(data, layout)``).
* :mod:`~recsys.charts.overview` - the Data page: events over time, event mix, top offers, activity, cleaning.
* :mod:`~recsys.charts.training` - the Train page: model against baselines, learning curves, calibration, freshness.
* :mod:`~recsys.charts.measurement` - the Measure page: arm means, lift, lift by score decile, Qini curves.
* :mod:`~recsys.charts.segments` - the Segments page: sizes, trend, RFM grid, response heatmap, map, lifts.
* :mod:`~recsys.charts.audience` - the Campaign page: audience funnel, coupons per offer, scores, group mix,
  the selection check.
* :mod:`~recsys.charts.attribution` - the Recommendations page: why this score, who an offer is for, heatmaps.
* :mod:`~recsys.charts.fairness` - the Fairness page: disparate impact, history, intervals, exposure, trade-off.

The submodules are imported by name (``from recsys.charts import segments``); pages wrap theirs in
``pages.shared.CachedCharts`` so each figure is built once per content and language.
"""

__all__ = ["style", "overview", "training", "measurement", "segments", "audience", "attribution", "fairness"]
