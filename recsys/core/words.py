"""Canonical names a marketer sees, marked for translation: event types, model and phase names, metric names.

Data and runs keep the canonical names (``redeem``, ``hybrid``, ``precision@10``); charts and pages show
them through these helpers, which give the name itself in English and its translation otherwise
(:mod:`recsys.core.i18n`).

>>> from recsys.core.i18n import use_language
>>> metric_label("precision@10"), event_word("redeem")
('precision@10', 'redeem')
>>> with use_language("zh_CN"):
...     metric_label("precision@10"), event_word("redeem"), event_word("my_event")
('精确率@10', '核销', 'my_event')
"""

from __future__ import annotations

import re

from recsys.core import i18n
from recsys.core.i18n import N_
from recsys.core.i18n import gettext as _

#: Model and phase names shown as they are stored (trace names, tables), translated when shown.
NAME_WORDS = [N_("hybrid"), N_("collaborative"), N_("popularity"), N_("random"), N_("recent_popularity"),
              N_("item_knn"), N_("ease"), N_("als"), N_("early stopping"), N_("fit"), N_("refit"), N_("predicted"),
              N_("observed"), N_("customer"), N_("offer")]
#: Table columns shown under their own name and translated by ``pages.shared.shown_headers`` (listed so
#: that ``make messages`` keeps them).
HEADER_WORDS = [N_("imported"), N_("validation"), N_("seconds")]
#: Metric names (the part before "@k"), translated.
METRIC_WORDS = {"precision": N_("precision"), "recall": N_("recall"), "hit_rate": N_("hit_rate"),
                "map": N_("map"), "coverage": N_("coverage"), "arp": N_("arp"), "diversity": N_("diversity"),
                "novelty": N_("novelty"), "personalization": N_("personalization")}
#: The event vocabulary (``core.columns``), translated; a shop's own event names stay as they are.
EVENT_WORDS = {"impression": N_("impression"), "view": N_("view"), "click": N_("click"), "redeem": N_("redeem"),
               "purchase": N_("purchase"), "interaction": N_("interaction")}


def metric_label(name: str) -> str:
    """A metric name such as "precision@10" in the current language ("精确率@10"); itself in English."""
    base, at, k = str(name).partition("@")
    return (_(METRIC_WORDS[base]) if base in METRIC_WORDS else base) + at + k


def event_word(event: str) -> str:
    """An event type in the current language (a name outside the vocabulary: itself)."""
    return _(EVENT_WORDS[event]) if event in EVENT_WORDS else event


def column_words(column: str) -> str:
    """A data column's name in a sentence: "age band" in English, the name itself otherwise (it is the data's)."""
    return column.replace("_", " ") if i18n.current_language() == i18n.SOURCE_LANGUAGE else column


#: The response model's reason labels (``learn.response`` feature groups, stored in English) and their templates.
_REASON_LABELS = (
    (re.compile(r"^customer history: (?P<what>.+)$"), N_("customer history: {what}")),
    (re.compile(r"^customer: (?P<column>.+)$"), N_("customer: {column}")),
    (re.compile(r"^offer: (?P<column>.+)$"), N_("offer: {column}")),
    (re.compile(r"^fit with this customer's tastes \((?P<model>.+)\)$"), N_("fit with this customer's tastes ({model})")),
)
#: The words inside those labels (history features, the track record, model names).
REASON_WORDS = [N_("past responses"), N_("past exposures"), N_("past activity"), N_("days since last response"),
                N_("days since last activity"), N_("past response rate"), N_("offer track record"), N_("pt")]


def reason_label(label: str) -> str:
    """A reason's label ("customer history: past responses", "offer: channel") in the current language;
    column names stay the data's.

    >>> from recsys.core.i18n import use_language
    >>> with use_language("zh_CN"):
    ...     reason_label("customer history: past responses"), reason_label("offer: channel")
    ('客户历史:过去的响应', '优惠:channel')
    """
    for pattern, template in _REASON_LABELS:
        found = pattern.match(str(label))
        if found:
            values = found.groupdict()
            if "what" in values:
                values["what"] = _(values["what"])
            if "model" in values:
                values["model"] = values["model"] if values["model"] == "LightFM" else _(values["model"])
            return _(template).format(**values)
    return _(str(label))


#: Labels of the explanations' contributors that are the product's words (``learn.features`` identity
#: features, ``insight.attribution``); stored in English in models and explanations, translated when shown.
USER_IDENTITY_SOURCE = N_("this customer's own history")
ITEM_IDENTITY_SOURCE = N_("this offer's own track record")
NO_USER_HISTORY = N_("no own history yet (new customer)")
NO_ITEM_HISTORY = N_("no track record yet (new offer)")
UNKNOWN = N_("unknown")
_WHOLE_LABELS = frozenset({USER_IDENTITY_SOURCE, ITEM_IDENTITY_SOURCE, NO_USER_HISTORY, NO_ITEM_HISTORY, UNKNOWN})
_OTHER = re.compile(r"^other \((?P<n>\d+) more facts\)$")
_COUNTED = re.compile(r"^(?P<label>.*\S)(?P<count>\s+\(\d[\d,]*\))$")  # "segment = a  (95)": a label and its count
# A date column's bin (``learn.encoders.DateEncoder``): "signup_date: 30–90 days ago".
_DATE_BIN = re.compile(r"^(?P<column>.+): (?P<bin>in the future|last .+|over .+ ago|.+ ago)$")
_SPAN = re.compile(r"(?P<n>\d+) (?P<unit>day|year)s?")
_DATE_BINS = ((re.compile(r"^in the future$"), N_("in the future")), (re.compile(r"^last (?P<span>.+)$"), N_("last {span}")),
              (re.compile(r"^over (?P<span>.+) ago$"), N_("over {span} ago")), (re.compile(r"^(?P<span>.+) ago$"), N_("{span} ago")))
SPAN_WORDS = {"day": N_("{n} days"), "year": N_("{n} years")}


def _span(span: str) -> str:
    return _SPAN.sub(lambda m: _(SPAN_WORDS[m["unit"]]).format(n=m["n"]), span)


def contributor_label(label: str) -> str:
    """An explanation's contributor ("this offer's own track record", "other (8 more facts)", "signup_date:
    30–90 days ago", "segment = deal_seeker  (95)") in the current language; the data's column names and
    values stay the data's. Itself in English.

    >>> from recsys.core.i18n import use_language
    >>> with use_language("zh_CN"):
    ...     [contributor_label(x) for x in ("this offer's own track record", "other (8 more facts)",
    ...                                     "signup_date: 30–90 days ago", "region = 华东  (12)")]
    ['该优惠自身的历史表现', '其他(另外 8 项因素)', 'signup_date:30–90 天前', 'region = 华东  (12)']
    """
    label = str(label)
    if i18n.current_language() == i18n.SOURCE_LANGUAGE:
        return label
    counted = _COUNTED.match(label)
    if counted:
        return contributor_label(counted["label"]) + counted["count"]
    if label in _WHOLE_LABELS:
        return _(label)
    other = _OTHER.match(label)
    if other:
        return _("other ({n} more facts)").format(n=other["n"])
    dated = _DATE_BIN.match(label)
    if dated:
        for pattern, template in _DATE_BINS:
            found = pattern.match(dated["bin"])
            if found:
                parts = {k: _span(v) for k, v in found.groupdict().items()}
                return _("{column}: {bin}").format(column=dated["column"], bin=_(template).format(**parts))
    if label.endswith(": " + UNKNOWN):
        return _("{column}: {bin}").format(column=label[: -len(": " + UNKNOWN)], bin=_(UNKNOWN))
    return label



def contributor_labels(labels) -> list[str]:  # noqa: ANN001 - any sequence of labels
    """:func:`contributor_label` of each label, each distinct label translated once."""
    values = [str(x) for x in labels]
    words = {x: contributor_label(x) for x in dict.fromkeys(values)}
    return [words[x] for x in values]
