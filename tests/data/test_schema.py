"""Column typing: every kind is recognised, sensitivity by name, schema round trip and overrides."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys.data.schema import (
    INFERENCE_SAMPLE,
    ColumnKind,
    TableSchema,
    infer_kind,
    infer_schema,
    is_sensitive_name,
    explode_tags,
    split_tags,
)


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        (["north", "south", "east", "north"] * 5, ColumnKind.CATEGORICAL),
        ([10, 20, 30, 50, 25] * 4, ColumnKind.NUMERIC),
        (["10.5", "20", "7.25", "3"] * 5, ColumnKind.NUMERIC),
        ([True, False, True] * 5, ColumnKind.BOOLEAN),
        (["yes", "no", "yes"] * 5, ColumnKind.BOOLEAN),
        ([0, 1, 1, 0] * 5, ColumnKind.BOOLEAN),
        (["2025-01-03", "2024-12-31", "2025-06-30", "2023-02-01"] * 5, ColumnKind.DATE),
        (["shoes|sale", "bags", "sale|bags|new", "new"] * 5, ColumnKind.TAGS),
        ([f"Cosy winter scarf number {i} in soft wool" for i in range(20)], ColumnKind.TEXT),
        ([None, None], ColumnKind.IGNORE),
    ],
)
def test_infer_kind(values: list, kind: ColumnKind) -> None:
    assert infer_kind(pd.Series(values)) == kind


def test_inference_samples_large_columns_deterministically() -> None:
    rng = np.random.default_rng(0)
    big = pd.Series(rng.choice(["gold", "silver", "bronze"], INFERENCE_SAMPLE * 3))
    assert infer_kind(big) == ColumnKind.CATEGORICAL
    assert infer_kind(pd.Series(pd.date_range("2020-01-01", periods=INFERENCE_SAMPLE * 2, freq="h"))) == ColumnKind.DATE


@pytest.mark.parametrize(
    ("name", "sensitive"),
    [("gender", True), ("age_band", True), ("AgeGroup", True), ("date_of_birth", True), ("Ethnicity", True),
     ("page_views", False), ("stage", False), ("region", False), ("loyalty_tier", False)],
)
def test_sensitive_names(name: str, sensitive: bool) -> None:
    assert is_sensitive_name(name) is sensitive


def test_infer_schema_marks_identifiers_and_sensitive_and_round_trips() -> None:
    users = pd.DataFrame({
        "user_id": ["a", "b", "c"], "gender": ["F", "M", "F"], "segment": ["x", "y", "x"],
        "email": ["a@example.com", "b@example.com", "c@example.com"],
    })
    schema = infer_schema(users, "user_id", identifiers={"email"})
    kinds = schema.kinds()
    assert "user_id" not in kinds and kinds["email"] == ColumnKind.IDENTIFIER
    assert schema.sensitive() == ["gender"]
    assert schema.feature_columns() == ["segment"]
    assert schema.feature_columns(include_sensitive=True) == ["gender", "segment"]
    assert TableSchema.from_list(schema.to_list()) == schema
    changed = schema.with_overrides(kinds={"segment": ColumnKind.IGNORE}, sensitive={"gender": False})
    assert changed.feature_columns() == ["gender"]


def test_split_tags_handles_missing_and_separators() -> None:
    tags = split_tags(pd.Series(["a | b", None, "c;d,e", ""]))
    assert tags.tolist() == [["a", "b"], [], ["c", "d", "e"], []]


def test_explode_tags_keeps_row_labels() -> None:
    exploded = explode_tags(pd.Series(["x|y", None, " ", "z"], index=[10, 11, 12, 13]))
    assert exploded.index.tolist() == [10, 10, 13] and exploded.tolist() == ["x", "y", "z"]


def test_free_text_like_titles_are_text_never_per_row_categories(sample_shop) -> None:  # noqa: ANN001
    from recsys.core import columns as C
    from recsys.data.schema import ColumnKind, infer_schema

    kinds = {c.name: c.kind for c in infer_schema(sample_shop.items, C.ITEM_ID).columns}
    assert kinds["title"] == ColumnKind.TEXT  # one distinct title per offer: a category would learn nothing
    assert kinds["campaign_type"] == ColumnKind.CATEGORICAL  # few values shared by many offers
