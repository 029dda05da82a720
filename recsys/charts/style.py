"""The charts' shared look: one palette, the plotly template, titles, margins and legends, and the helpers
every one-pass builder uses (``go.Figure(data, layout)``, traces split and coloured as ``plotly.express``
splits them). No Streamlit here."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import plotly.io as pio


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
    once, at creation, instead of plotly's default first and this one again in :func:`style_figure`."""
    pio.templates.default = TEMPLATE


#: Colours several pages share: the control group (grey) and a flag (below the four-fifths line, red).
CONTROL_COLOR = "#9E9E9E"
FLAG_COLOR = "#d32f2f"


def translated_colors(colors: dict[str, str], words: dict[str, str]) -> dict[str, str]:
    """A colour map keyed by the translated names (``words``: canonical -> shown)."""
    return {words.get(k, k): v for k, v in colors.items()}


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


def style_figure(fig: go.Figure, title: str, height: int = 340) -> go.Figure:
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


def figure_layout(title: str, height: int = 340, **layout: object) -> dict:
    """The layout :func:`style_figure` gives, with ``layout`` merged in, for a figure built in one pass.

    ``go.Figure(data=[...], layout=figure_layout(...))`` validates everything once; a ``plotly.express``
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


def build_figure(data: list[dict], title: str, height: int = 340, **layout: object) -> go.Figure:
    """A styled figure in one pass: traces given as dicts (with their ``type``), the layout of :func:`figure_layout`."""
    return go.Figure(data=data, layout=figure_layout(title, height, **layout))


#: The colours plotly.express gives traces that no colour map names: the template's colourway.
DEFAULT_SEQUENCE = list(pio.templates["plotly_white"].layout.colorway)


def trace_groups(frame: pd.DataFrame, column: str, order: list | None = None) -> list[tuple[object, pd.DataFrame]]:
    """``frame``'s rows per value of ``column``: values of ``order`` first (those present), then the others in
    order of appearance (as ``plotly.express`` splits traces); missing values are left out."""
    present = list(pd.unique(frame[column].dropna()))
    ordered = list(dict.fromkeys([*(order or []), *present]))
    parts = dict(tuple(frame.groupby(column, sort=False, dropna=True)))
    return [(value, parts[value]) for value in ordered if value in parts]


def color_map(values: list, colors: dict | None = None, sequence: list[str] = DEFAULT_SEQUENCE) -> dict:
    """``colors`` completed for ``values`` as ``plotly.express`` does: a value it does not name takes the
    sequence's colour at the number of colours known so far."""
    out = dict(colors or {})
    for value in values:
        if value not in out:
            out[value] = sequence[len(out) % len(sequence)]
    return out


def plot_axes(x: dict | None = None, y: dict | None = None) -> dict:
    """A single-plot layout's two axes as ``plotly.express`` sets them, with ``x`` / ``y`` on top."""
    return {"xaxis": {"anchor": "y", "domain": [0.0, 1.0], **(x or {})},
            "yaxis": {"anchor": "x", "domain": [0.0, 1.0], **(y or {})}}
