"""Segments of a stored dataset: the jobs behind the Segments page and ``promolens segments``.

:func:`segment_dataset` segments a dataset by RFM, customer facts or the behavioural clusters of a
saved run (loaded here), and :func:`report` summarises it as JSON. Saved segments keep a name, a
definition and the member list as of saving (:func:`save_segment`, :func:`segment_members`,
:func:`audience`) and can be laid over any universe of customers (:func:`saved_segmentation`).
The analysis itself takes frames and a model, in :mod:`recsys.insight.segments` and its siblings.
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from recsys.core import columns as C
from recsys.core.i18n import gettext as _
from recsys.core.jsonio import dumps
from recsys.insight.clusters import DEFAULT_K_RANGE, ClusterResult, behaviour_vectors, cluster_users, suggest_k
from recsys.insight.lift import describe, offer_lift, trait_columns, trait_lift
from recsys.insight.rfm import RFM_NAMES, RFMResult, rfm
from recsys.insight.segments import CUSTOMERS, Segmentation, by_columns, customer_universe, id_index


# =================================================================================================
# saved segments (kept in the workspace)
# =================================================================================================
def save_segment(
    ws: Any, dataset_id: str, name: str, members: Iterable[Any], definition: dict[str, Any],
) -> str:
    """Save a named segment with its member list as of now; return its id.

    ``definition`` says how it was made (e.g. ``{"kind": "rfm", "segment": "champions",
    "reference_date": "2026-07-01"}``); the member list is what later audiences use, even if the
    data or the model changes.

    Raises
    ------
    ValueError
        On an empty name, no members, or members that are not customers of the dataset.
    """
    name = (name or "").strip()
    if not name:
        raise ValueError("give the segment a name")
    ids = pd.Series(id_index(members)).drop_duplicates()
    if ids.empty:
        raise ValueError(f"segment '{name}' has no customers; select some before saving")
    known = dataset_user_ids(ws, dataset_id)
    unknown = ids[~ids.isin(known)]
    if len(unknown):
        raise ValueError(
            f"{len(unknown):,} of the {len(ids):,} customers are not in dataset {dataset_id} "
            f"(e.g. {', '.join(unknown.head(3))}); segments hold customers of their own dataset only"
        )
    return ws.save_segment(dataset_id, name, {**definition, "n_members": int(len(ids))}, ids.rename(C.USER_ID))


def dataset_user_ids(ws: Any, dataset_id: str) -> pd.Index:
    """Every customer id of a stored dataset (customers table and interactions)."""
    path = lambda t: str(ws.table_path(dataset_id, t))  # noqa: E731 - two paths
    frame = ws.query(
        f"SELECT DISTINCT CAST({C.USER_ID} AS VARCHAR) AS u FROM read_parquet(?) "
        f"UNION SELECT DISTINCT CAST({C.USER_ID} AS VARCHAR) FROM read_parquet(?)",
        [path(C.Table.INTERACTIONS), path(C.Table.USERS)],
    )
    return pd.Index(frame["u"].astype(str))


def saved_segments(ws: Any, dataset_id: str) -> pd.DataFrame:
    """The dataset's saved segments, newest first: ``id``, ``name``, ``customers``, ``kind``, ``created_at``."""
    rows = ws.segments(dataset_id)
    return pd.DataFrame({
        "id": [r["id"] for r in rows], "name": [r["name"] for r in rows],
        CUSTOMERS: [int(r["n_members"]) for r in rows],
        "kind": [r["definition"].get("kind", "") for r in rows],
        "created_at": [r["created_at"] for r in rows],
    })


def saved_names(ws: Any, dataset_id: str, segmentation: Segmentation) -> dict[str, str]:
    """The names saved for this segmentation's segments, e.g. ``{"cluster 2": "young deal seekers"}``.

    A saved segment names a label when it was saved from the same segmentation (its definition is
    this one's plus ``segment`` = the label and its size) and still has the label's number of customers (a
    recomputed segmentation with other members keeps its plain labels). The newest name wins.
    """
    definition = json.loads(dumps(segmentation.definition))
    sizes = segmentation.labels.value_counts()
    names: dict[str, str] = {}
    for row in reversed(ws.segments(dataset_id)):  # a short list, oldest first so the newest wins
        saved = dict(row["definition"] or {})
        label = saved.pop("segment", None)
        saved.pop("n_members", None)  # added when saved
        if label is not None and saved == definition and int(sizes.get(str(label), -1)) == int(row["n_members"]):
            names[str(label)] = str(row["name"])
    return names


def segment_label(label: str, names: dict[str, str]) -> str:
    """A segment's label for a picker: its saved name with the label, else the label.

    >>> segment_label("cluster 2", {"cluster 2": "young deal seekers"}), segment_label("cluster 1", {})
    ('young deal seekers (cluster 2)', 'cluster 1')
    """
    return f"{names[label]} ({label_words(label)})" if label in names else label_words(label)


def label_words(label: str) -> str:
    """A segment label in the current language: RFM names and "cluster 2" are translated; other labels
    (the data's own values, e.g. "region=north") stay as they are.

    >>> label_words("champions"), label_words("cluster 2"), label_words("north")
    ('champions', 'cluster 2', 'north')
    """
    text = str(label)
    if text in RFM_NAMES:
        return _(RFM_NAMES[text])
    if text.startswith("cluster ") and text[8:].isdigit():
        return _("cluster {n}").format(n=text[8:])
    return text


def segment_members(ws: Any, segment_id: str) -> pd.Series:
    """The member ids of a saved segment (as saved)."""
    return ws.segment_members(segment_id).astype(str).rename(C.USER_ID)


def members_by_segment(ws: Any, segment_ids: Iterable[str]) -> dict[str, pd.Series]:
    """The member ids of each of several saved segments (what an audience filter is given)."""
    return {segment_id: segment_members(ws, segment_id) for segment_id in segment_ids}


def delete_segment(ws: Any, segment_id: str) -> None:
    ws.delete_segment(segment_id)


def audience(ws: Any, segment_ids: Sequence[str], *, combine: str = "union") -> pd.Series:
    """Members of one or several saved segments, combined by ``"union"`` or ``"intersection"``.

    The audience filter of a campaign: ``user_ids[in_audience(...)]``.
    """
    if combine not in ("union", "intersection"):
        raise ValueError(f"combine must be 'union' or 'intersection', got {combine!r}")
    if not segment_ids:
        raise ValueError("pick at least one saved segment")
    result: pd.Index | None = None
    for segment_id in segment_ids:  # a few saved segments
        members = pd.Index(segment_members(ws, segment_id))
        result = members if result is None else (result.union(members, sort=False) if combine == "union"
                                                 else result.intersection(members, sort=False))
    assert result is not None
    return pd.Series(result, name=C.USER_ID)


def saved_segmentation(ws: Any, segment_id: str, user_ids: Iterable[Any]) -> Segmentation:
    """A saved segment against everyone else, over the universe ``user_ids``."""
    members = segment_members(ws, segment_id)  # raises NotFound with the workspace's message
    row = next(s for s in ws.segments() if s["id"] == segment_id)
    universe = id_index(user_ids).unique()
    inside = str(row["name"])
    outside = "everyone else" if inside != "everyone else" else "the rest"
    labels = pd.Series(np.where(universe.isin(members), inside, outside), index=universe)
    return Segmentation.from_labels(labels, "saved", {"kind": "saved", "segment_id": segment_id, **row["definition"]},
                                    order=[inside, outside])


# =================================================================================================
# one entry point for the page and the CLI
# =================================================================================================
METHODS = ("rfm", "columns", "clusters")


@dataclass(frozen=True)
class SegmentsResult:
    """A segmentation of a dataset with what the page and the CLI show about it."""

    segmentation: Segmentation
    rfm: RFMResult | None = None
    clusters: ClusterResult | None = None
    run_id: str | None = None


#: File in a run's folder keeping the silhouette search of its model (:func:`suggested_clusters`).
SUGGESTION_FILE = "clusters_suggestion.json"
#: Bumped when the clustered vectors or the search change, so a kept suggestion is not reused.
SUGGESTION_VERSION = 1


def suggested_clusters(ws: Any, run_id: str, model: Any, *, seed: int = 0,
                       k_range: Sequence[int] = DEFAULT_K_RANGE, sample_size: int = 4000) -> tuple[int, pd.DataFrame]:
    """The silhouette's suggested number of behavioural clusters of a run's model and the score of every
    k tried (:func:`recsys.insight.clusters.suggest_k`), searched once per run and kept in its folder.

    The search fits k-means for every k of ``k_range`` (about 1 s on the sample shop); the model of a run
    never changes, so its answer is kept in ``SUGGESTION_FILE`` beside the model with the settings it
    answers, and read back by every later visit, language and process. A file that cannot be read or
    answers other settings is searched again; one that cannot be written (a read-only workspace) only
    costs the search next time.
    """
    settings = {"version": SUGGESTION_VERSION, "seed": int(seed), "k_range": [int(k) for k in k_range],
                "sample_size": int(sample_size)}
    path = ws.run_dir(run_id) / SUGGESTION_FILE
    try:
        kept = json.loads(path.read_text(encoding="utf-8"))
        if kept.get("settings") == settings:
            table = pd.DataFrame({"k": [int(k) for k in kept["k"]], "silhouette": [float(v) for v in kept["silhouette"]]})
            suggested = int(kept["suggested_k"])
            if suggested in set(table["k"]):
                return suggested, table
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass  # absent, damaged or of other settings: search again
    suggested, table = suggest_k(behaviour_vectors(model)[1], k_range, sample_size=sample_size, seed=seed)
    record = {"settings": settings, "suggested_k": suggested, "k": table["k"].tolist(),
              "silhouette": table["silhouette"].tolist()}
    tmp = path.with_name(f".{SUGGESTION_FILE}.{os.getpid()}.{threading.get_ident()}.tmp")  # one per writer
    try:
        tmp.write_text(dumps(record), encoding="utf-8")
        tmp.replace(path)  # atomic: a reader sees no file or a whole one
    except OSError:
        tmp.unlink(missing_ok=True)
    return suggested, table


def segment_dataset(
    ws: Any,
    dataset_id: str,
    method: str = "rfm",
    *,
    columns: Sequence[str] | None = None,
    k: int | None = None,
    run_id: str | None = None,
    reference_date: Any | None = None,
    seed: int = 0,
    data: Any = None,
    model: Any = None,
) -> SegmentsResult:
    """Segment a stored dataset by ``method`` (``"rfm"``, ``"columns"`` or ``"clusters"``).

    ``columns`` are the customer columns of ``"columns"``; ``k`` (default: silhouette, kept per run by
    :func:`suggested_clusters`) and ``run_id`` (default: the dataset's newest run) are for
    ``"clusters"``; ``reference_date`` for ``"rfm"``. ``data`` (the loaded dataset) and ``model`` (the
    run's production model) when the caller already holds them, loaded otherwise. The same call backs
    the page and ``promolens segments``.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if method == "clusters":
        from recsys.workspace.runs import load_model

        run_id = run_id or next((r["id"] for r in ws.runs(dataset_id)), None)
        if run_id is None:
            raise ValueError(f"behavioural clusters need a trained model: train one on dataset {dataset_id} first")
        if ws.run(run_id)["dataset_id"] != dataset_id:
            raise ValueError(f"run {run_id} was trained on another dataset, not {dataset_id}")
        model = model if model is not None else load_model(ws, run_id)
        suggestion = suggested_clusters(ws, run_id, model, seed=seed) if k is None else None
        result = cluster_users(model, k, seed=seed, suggestion=suggestion)
        definition = {**result.segmentation.definition, "run_id": run_id}
        seg = dataclasses.replace(result.segmentation, definition=definition)
        return SegmentsResult(seg, clusters=dataclasses.replace(result, segmentation=seg), run_id=run_id)
    data = data if data is not None else ws.load_dataset(dataset_id)
    if method == "rfm":
        result_rfm = rfm(data.interactions, reference_date, users=data.users)
        return SegmentsResult(result_rfm.segmentation(), rfm=result_rfm)
    universe = customer_universe(data.users, data.interactions)
    return SegmentsResult(by_columns(data.users, columns or [], schema=data.info.user_schema, user_ids=universe))


def segment_by_saved(ws: Any, dataset_id: str, segment_id: str, data: Any = None) -> SegmentsResult:
    """A saved segment against everyone else among the dataset's customers.

    ``data`` is the loaded dataset when the caller already holds it (loaded otherwise).
    """
    data = data if data is not None else ws.load_dataset(dataset_id)
    return SegmentsResult(saved_segmentation(ws, segment_id, customer_universe(data.users, data.interactions)))


def date_range(ws: Any, dataset_id: str) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    """First and last interaction time of a stored dataset (Nones when it has no dates)."""
    row = ws.query(
        f"SELECT min({C.TIMESTAMP}) AS first, max({C.TIMESTAMP}) AS last FROM read_parquet(?)",
        [str(ws.table_path(dataset_id, C.Table.INTERACTIONS))],
    ).iloc[0]
    return (None if pd.isna(row["first"]) else pd.Timestamp(row["first"]),
            None if pd.isna(row["last"]) else pd.Timestamp(row["last"]))


def report(ws: Any, dataset_id: str, result: SegmentsResult, *, n: int = 3) -> dict[str, Any]:
    """JSON-able summary: definition, notes, and per segment its size, top traits and offer types."""
    data = ws.load_dataset(dataset_id)
    seg = result.segmentation
    traits = trait_lift(seg, data.users, trait_columns(seg, data.users, data.info.user_schema), schema=data.info.user_schema)
    offers = offer_lift(seg, data.interactions, data.items, schema=data.info.item_schema)
    table = describe(seg, traits, offers, n=n)
    out: dict[str, Any] = {
        "dataset_id": dataset_id, "definition": seg.definition, "notes": list(seg.notes),
        "customers": seg.n_customers, "segments": table.to_dict("records"),
    }
    if result.rfm is not None:
        summary = result.rfm.summary()
        out["rfm"] = {
            "reference_date": result.rfm.reference_date.date().isoformat(), "has_monetary": result.rfm.has_monetary,
            "conversion": result.rfm.conversion, "summary": json.loads(summary.to_json(orient="records")),
        }
    if result.clusters is not None:
        out["clusters"] = {"k": result.clusters.k, "suggested_k": result.clusters.suggested_k,
                           "silhouette": result.clusters.silhouette.to_dict("records")}
    return out


__all__ = [
    "save_segment", "saved_segments", "segment_members", "members_by_segment", "delete_segment", "audience",
    "saved_segmentation", "dataset_user_ids", "segment_dataset", "segment_by_saved", "date_range", "report",
    "SegmentsResult", "METHODS", "saved_names", "suggested_clusters", "SUGGESTION_FILE", "segment_label", "label_words",
]
