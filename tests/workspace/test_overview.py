"""Dataset summaries for the Data page, checked against pandas on a small hand-made dataset."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from recsys.charts import overview as overview_charts
from recsys.data.prepare import prepare_dataset
from recsys.workspace import overview
from recsys.workspace.store import Workspace


@pytest.fixture()
def ws_and_id(tmp_path: Path) -> tuple[Workspace, str]:
    inter = pd.DataFrame({
        "user_id": ["u1", "u1", "u1", "u2", "u3", "u3"],
        "item_id": ["o1", "o2", "o1", "o1", "o2", "o3"],
        "event": ["click", "purchase", "redeem", "click", "purchase", "click"],
        "timestamp": ["2026-01-01", "2026-01-02", "2026-01-09", "2026-01-10", "2026-01-20", "2026-01-21"],
        "value": [None, 20.0, None, None, 5.5, None],
    })
    users = pd.DataFrame({"user_id": ["u1", "u2", "u3", "u4"], "tier": ["gold", "silver", "gold", None]})
    items = pd.DataFrame({"item_id": ["o1", "o2", "o3"], "title": ["Shoes 20% off", "Bags 10% off", "Free shipping"]})
    for name, frame in (("i.csv", inter), ("u.csv", users), ("o.csv", items)):
        frame.to_csv(tmp_path / name, index=False)
    prepared = prepare_dataset(tmp_path / "i.csv", tmp_path / "u.csv", tmp_path / "o.csv")
    ws = Workspace(tmp_path / "ws")
    return ws, ws.save_dataset(prepared, "tiny").id


def test_headline_counts(ws_and_id) -> None:
    ws, dataset_id = ws_and_id
    head = overview.headline(ws, dataset_id)
    assert (head["interactions"], head["customers"], head["offers"]) == (6, 3, 3)
    assert head["revenue"] == pytest.approx(25.5)
    assert pd.Timestamp(head["first"]) == pd.Timestamp("2026-01-01")


def test_event_mix_and_top_items(ws_and_id) -> None:
    ws, dataset_id = ws_and_id
    mix = overview.event_mix(ws, dataset_id).set_index("event")
    assert mix.loc["click", "rows"] == 3 and mix.loc["purchase", "revenue"] == pytest.approx(25.5)
    top = overview.top_items(ws, dataset_id, n=2, label_column="title")
    assert top["item_id"].tolist() == ["o1", "o2"]  # o1: 2 customers, o2: 2 customers, tie broken by id
    assert top["label"].tolist() == ["Shoes 20% off", "Bags 10% off"]


def test_events_over_time_and_activity(ws_and_id) -> None:
    ws, dataset_id = ws_and_id
    weekly = overview.events_over_time(ws, dataset_id, "week")
    assert weekly["rows"].sum() == 6
    with pytest.raises(ValueError, match="period"):
        overview.events_over_time(ws, dataset_id, "fortnight")
    activity = overview.activity_distribution(ws, dataset_id).set_index("interactions per customer")["customers"]
    assert activity["1"] == 1 and activity["2"] == 1 and activity["3-5"] == 1 and activity.sum() == 3


def test_users_by_column_counts_missing(ws_and_id) -> None:
    ws, dataset_id = ws_and_id
    counts = overview.users_by_column(ws, dataset_id, "tier").set_index("tier")["customers"]
    assert counts.to_dict() == {"gold": 2, "silver": 1, "(missing)": 1}


def test_charts_build_from_the_summaries(ws_and_id) -> None:
    ws, dataset_id = ws_and_id
    figures = [
        overview_charts.events_over_time(overview.events_over_time(ws, dataset_id)),
        overview_charts.event_mix(overview.event_mix(ws, dataset_id)),
        overview_charts.top_items(overview.top_items(ws, dataset_id)),
        overview_charts.activity_distribution(overview.activity_distribution(ws, dataset_id)),
        overview_charts.users_by_column(overview.users_by_column(ws, dataset_id, "tier")),
    ]
    assert all(len(fig.data) >= 1 for fig in figures)
    assert figures[1].layout.title.text == "Event mix"
