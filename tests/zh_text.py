"""What a page shows, as text, and the English left on a page rendered in Chinese (AppTest).

:func:`page_texts` walks an AppTest's element tree (main area and sidebar) and collects every piece of
text a marketer reads: markdown, captions, headings, alerts, widget labels, help tooltips,
placeholders, options, tab and expander labels, metrics, table headers and the text cells of tables (and a table's row names), Plotly titles,
axis titles, legend titles, trace names and category labels. :func:`english_leftovers` then finds English words in it:
runs of Latin letters that are not a product or technical name (PromoLens, CSV, LightFM, SHAP ...),
an acronym, an identifier with digits, or one of the data's own names (``allowed``: the dataset's
column names and values, which stay as the shop wrote them).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator

import pandas as pd

#: Names that stay as they are in Chinese text: the product, file formats, libraries, methods.
KEEP = {
    "promolens", "csv", "tsv", "parquet", "excel", "xlsx", "xls", "gzip", "json", "utf", "bom", "gbk", "gb18030",
    "big5", "lightfm", "shap", "ease", "als", "knn", "item-knn", "bpr", "warp", "duckdb", "spark", "streamlit",
    "plotly", "jieba", "ndcg", "auc", "rfm", "roi", "qini", "id", "ids", "url", "http", "https", "www", "e-mail",
    "email", "cli", "api", "logistic", "hillstrom", "uci", "online", "retail", "adam", "adagrad", "sql",
    "promolens_currency", "promolens_lang", "gbp", "usd", "eur", "chf", "jpy", "cny", "rmb", "english",
    # statistics and method names, and the letters of their notation (p < 0.001, k clusters, precision@k)
    "p", "k", "k-means", "t-sne", "pca", "welch", "holm", "delta", "gini", "precision", "recall",
}
_STRIP = [
    re.compile(r":material/[a-z_]+:"),          # icons
    re.compile(r"`[^`]*`"),                      # code spans: commands, column names, file names
    re.compile(r"https?://\S+"),                 # links
    re.compile(r"\$?PROMOLENS_[A-Z_]+"),         # environment variables
    re.compile(r"\b[\w.-]+\.(?:csv|tsv|parquet|xlsx|xls|gz|json|txt|npz|po)\b", re.I),  # file names
    re.compile(r"\b(?:users|items|interactions)\.\w+"),
    re.compile(r"\b[a-z][a-z_0-9]*=[^,\s]+"),            # a model's settings as its library names them: alpha=10.0  # a table's column, as the data contract names it
    re.compile(r"\b\w*\d\w*\b"),                 # ids and numbers: u0001, P@10, 2024-01-02, run-3f2a
]
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*[A-Za-z]|[A-Za-z]")
_TEXT_FIELDS = ("label", "body", "help", "placeholder", "caption", "value", "delta", "text")


def _proto_texts(proto: object) -> Iterator[str]:
    fields = getattr(proto, "ListFields", None)
    if fields is None:
        return
    for field, value in fields():
        if field.name in _TEXT_FIELDS and isinstance(value, str):
            yield value
        elif field.name in ("options", "display_values") and not isinstance(value, (str, bytes)):
            yield from (v for v in value if isinstance(v, str))
        elif field.name == "spec" and isinstance(value, str):  # a Plotly figure
            yield from _plotly_texts(value)


def _plotly_texts(spec: str) -> Iterator[str]:
    try:
        figure = json.loads(spec)
    except ValueError:
        return
    layout = figure.get("layout", {})

    def title(node: object) -> Iterator[str]:
        if isinstance(node, dict):
            text = node.get("text") if isinstance(node.get("title"), type(None)) else None
            inner = node.get("title")
            if isinstance(inner, dict) and isinstance(inner.get("text"), str):
                yield inner["text"]
            elif isinstance(inner, str):
                yield inner
            if isinstance(text, str) and "title" not in node:
                pass

    yield from title(layout)
    for key, axis in layout.items():
        if key.startswith(("xaxis", "yaxis", "legend", "coloraxis")) and isinstance(axis, dict):
            yield from title(axis)
            if isinstance(axis.get("colorbar"), dict):
                yield from title(axis["colorbar"])
    for annotation in layout.get("annotations", []) or []:
        if isinstance(annotation, dict) and isinstance(annotation.get("text"), str):
            yield annotation["text"]
    for trace in figure.get("data", []) or []:
        if isinstance(trace, dict) and isinstance(trace.get("name"), str):
            yield trace["name"]
        for key in ("x", "y", "text"):  # category labels (a waterfall's facts, a heatmap's rows)
            values = trace.get(key) if isinstance(trace, dict) else None
            if isinstance(values, list):
                yield from (v for v in values if isinstance(v, str))


def _nodes(node: object) -> Iterator[object]:
    yield node
    children = getattr(node, "children", None)
    if isinstance(children, dict):
        for child in children.values():
            yield from _nodes(child)


def page_texts(at: object) -> list[str]:
    """Every text of the rendered page (main area and sidebar), in tree order, data tables' headers included."""
    texts: list[str] = []
    for node in _nodes(at._tree):  # noqa: SLF001 - AppTest has no public walk over every element
        proto = getattr(node, "proto", None)
        if proto is not None:
            texts.extend(_proto_texts(proto))
        if getattr(node, "type", None) in ("arrow_data_frame", "arrow_table", "dataframe", "table"):
            try:
                frame = node.value
            except Exception:  # noqa: BLE001 - a table that cannot be decoded has no texts to check
                continue
            texts.extend(str(c) for c in frame.columns)
            texts.extend(str(i) for i in frame.index if isinstance(i, str))  # a table of facts by name
            for column in frame.columns:  # the cells of its text columns (the product's words among the data's)
                if frame[column].dtype == object or pd.api.types.is_string_dtype(frame[column].dtype):
                    texts.extend(str(v) for v in frame[column].dropna().unique()[:200])
    return texts


def english_words(text: str, allowed: Iterable[str] = ()) -> list[str]:
    """The English words left in ``text``: Latin-letter words not kept by :data:`KEEP`, not acronyms
    (all capitals), not identifiers with digits and not one of the data's own names (``allowed``)."""
    allowed_lower = {str(a).lower() for a in allowed}
    for name in sorted(allowed_lower, key=len, reverse=True):  # the data's names, possibly several words
        if " " in name or "_" in name:  # "loyalty_tier", also as Markdown escapes it ("loyalty\\_tier")
            for form in {name, name.replace("_", "\\_")}:
                text = re.sub(re.escape(form), " ", text, flags=re.I)
    for pattern in _STRIP:
        text = pattern.sub(" ", text)
    words = []
    for word in _WORD.findall(text):
        lower = word.lower().strip("'’-")
        if word.isupper() or lower in KEEP or lower in allowed_lower or any(
            part in allowed_lower or part in KEEP for part in lower.split("_") if part
        ) and "_" in lower:
            continue
        words.append(word)
    return words


def english_leftovers(at: object, allowed: Iterable[str] = ()) -> dict[str, list[str]]:
    """``{text: [English words]}`` for every text of the page that still has English in it."""
    allowed = list(allowed)
    found = {}
    for text in page_texts(at):
        words = english_words(text, allowed)
        if words:
            found[text] = words
    return found
