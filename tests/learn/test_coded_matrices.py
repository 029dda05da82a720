"""Training from the stored ids' integer codes gives exactly what hashing the text gives.

A dataset's tables are read from Parquet with their id columns' dictionary codes
(:mod:`recsys.data.coded`); :func:`build_interactions`, :class:`FeatureBuilder` and the hybrid's fit
start from those codes. These tests build everything both ways on the small shop and compare.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import scipy.sparse as sp

from recsys.core import columns as C
from recsys.core.codes import IdCodes, attach, codes_of, subset_rows
from recsys.data.coded import DATASET_CODES, read_coded_tables
from recsys.learn.config import FeatureConfig
from recsys.learn.features import FeatureBuilder
from recsys.learn.interactions import IdIndex, build_interactions, interaction_weights

from tests.conftest import tiny_model_config


def write_tables(shop, folder: Path, interactions: pd.DataFrame | None = None, **options) -> dict[C.Table, Path]:
    """The shop's tables as the workspace stores them (``to_parquet``, no index)."""
    frames = {C.Table.INTERACTIONS: shop.interactions if interactions is None else interactions,
              C.Table.USERS: shop.users, C.Table.ITEMS: shop.items}
    paths = {}
    for table, frame in frames.items():
        paths[table] = folder / f"{table.value}.parquet"
        frame.to_parquet(paths[table], index=False, **options)
    return paths


@pytest.fixture(scope="module")
def both(small_shop, tmp_path_factory) -> tuple[dict, dict]:
    """(plain frames from pandas.read_parquet, coded frames) of the small shop's stored tables."""
    paths = write_tables(small_shop, tmp_path_factory.mktemp("coded"))
    plain = {t: pd.read_parquet(p) for t, p in paths.items()}
    return plain, read_coded_tables(paths, DATASET_CODES)


def same_matrix(a: sp.spmatrix, b: sp.spmatrix) -> bool:
    return a.shape == b.shape and (sp.csr_matrix(a) != sp.csr_matrix(b)).nnz == 0


def test_coded_frames_are_the_frames_pandas_reads(both) -> None:
    plain, coded = both
    for table in C.Table:
        pd.testing.assert_frame_equal(coded[table], plain[table])
    inter, users = coded[C.Table.INTERACTIONS], coded[C.Table.USERS]
    user_codes, table_codes = codes_of(inter[C.USER_ID]), codes_of(users[C.USER_ID])
    assert user_codes is not None and table_codes is not None and codes_of(inter[C.EVENT]) is not None
    assert user_codes.vocabulary is table_codes.vocabulary  # one customers vocabulary for both tables
    assert user_codes.vocabulary.take(user_codes.codes).to_pylist() == inter[C.USER_ID].tolist()
    assert codes_of(plain[C.Table.INTERACTIONS][C.USER_ID]) is None


def test_matrices_from_codes_equal_matrices_from_text(both, small_shop_schemas) -> None:
    plain, coded = both
    user_schema, item_schema = small_shop_schemas
    built = []
    for frames in (plain, coded):
        im = build_interactions(frames[C.Table.INTERACTIONS])
        ub = FeatureBuilder(user_schema, C.USER_ID, FeatureConfig()).fit(frames[C.Table.USERS], im.user_index)
        ib = FeatureBuilder(item_schema, C.ITEM_ID, FeatureConfig()).fit(frames[C.Table.ITEMS], im.item_index)
        built.append((im, ub, ib, ub.transform(frames[C.Table.USERS], im.user_index.ids),
                      ib.transform(frames[C.Table.ITEMS], im.item_index.ids)))
    (im_a, ub_a, ib_a, uf_a, if_a), (im_b, ub_b, ib_b, uf_b, if_b) = built
    assert im_b.user_index.codes is not None and im_a.user_index.codes is None  # the coded path was taken
    assert same_matrix(im_a.matrix, im_b.matrix) and im_a.matrix.nnz > 1000
    assert im_a.user_index.ids.tolist() == im_b.user_index.ids.tolist()
    assert im_a.item_index.ids.tolist() == im_b.item_index.ids.tolist()
    assert same_matrix(uf_a, uf_b) and same_matrix(if_a, if_b) and uf_a.nnz > len(im_a.user_index)
    assert ub_a.feature_index_.names.tolist() == ub_b.feature_index_.names.tolist()
    assert ib_a.feature_index_.names.tolist() == ib_b.feature_index_.names.tolist()
    w_plain, w_coded = (interaction_weights(f[C.Table.INTERACTIONS]).to_numpy() for f in (plain, coded))
    assert np.array_equal(w_plain, w_coded) and (w_plain > 0).any() and (w_plain == 0).any()


def test_fitted_hybrid_is_the_same_from_codes(both, small_shop_schemas) -> None:
    from recsys.learn.model import HybridRecommender

    plain, coded = both
    user_schema, item_schema = small_shop_schemas
    # a users table with customers who never interacted, so the id universe is extended too
    models = [HybridRecommender(tiny_model_config(epochs=1, random_state=7)).fit(
        f[C.Table.INTERACTIONS], f[C.Table.USERS], user_schema, f[C.Table.ITEMS], item_schema) for f in (plain, coded)]
    a, b = models
    assert b.user_index_.codes is not None
    assert a.user_index_.ids.tolist() == b.user_index_.ids.tolist() and len(a.user_index_) >= a.n_warm_users_
    assert a.item_index_.ids.tolist() == b.item_index_.ids.tolist()
    assert same_matrix(a.user_features_, b.user_features_) and same_matrix(a.item_features_, b.item_features_)
    assert np.array_equal(a.lightfm_.item_embeddings, b.lightfm_.item_embeddings)


def test_subsets_keep_codes_only_when_made_by_subset_rows(both) -> None:
    _, coded = both
    inter = coded[C.Table.INTERACTIONS]
    mask = np.arange(len(inter)) % 3 == 0
    kept = subset_rows(inter, mask)
    assert codes_of(kept[C.USER_ID]).codes.tolist() == codes_of(inter[C.USER_ID]).codes[mask].tolist()
    assert codes_of(inter[mask][C.USER_ID]) is None  # pandas' own subset is other Arrow data: no codes
    changed = kept.copy()
    changed[C.USER_ID] = changed[C.USER_ID].str.upper()
    assert codes_of(changed[C.USER_ID]) is None
    a, b = build_interactions(inter[mask]), build_interactions(kept)
    assert same_matrix(a.matrix, b.matrix) and a.user_index.ids.tolist() == b.user_index.ids.tolist()


def test_a_split_keeps_the_codes_of_its_parts(both) -> None:
    from recsys.learn.split import SplitConfig, split_interactions

    _, coded = both
    inter = coded[C.Table.INTERACTIONS]
    split = split_interactions(inter, SplitConfig())
    for part in (split.train, split.test):
        assert codes_of(part[C.USER_ID]).vocabulary.take(codes_of(part[C.USER_ID]).codes).to_pylist() == \
            part[C.USER_ID].tolist()


def test_lookups_across_vocabularies_and_text_agree() -> None:
    vocab = pd.Series(pd.array(["b", "a", "c"], dtype="str"))
    attach(vocab, IdCodes(pa.array(["b", "a", "c"]), np.array([0, 1, 2], dtype=np.int32)))
    index = IdIndex(["a", "c", "zz"])  # not coded: only the vocabulary's three ids are looked up
    assert index.positions(vocab).tolist() == [-1, 0, 1]
    coded_index = build_interactions(pd.DataFrame({C.USER_ID: vocab, C.ITEM_ID: vocab})).user_index
    assert coded_index.ids.tolist() == ["a", "b", "c"] and coded_index.codes is not None
    assert coded_index.lookup(index).tolist() == [0, 2, -1]
    assert coded_index.extend(pd.Series(["d", "a"])).ids.tolist() == ["a", "b", "c", "d"]


def test_missing_events_leave_the_column_uncoded_and_results_unchanged(small_shop, tmp_path) -> None:
    inter = small_shop.interactions.copy()
    inter[C.EVENT] = inter[C.EVENT].where(np.arange(len(inter)) % 50 != 0, None)
    paths = write_tables(small_shop, tmp_path, inter)
    coded = read_coded_tables(paths, DATASET_CODES)
    plain = pd.read_parquet(paths[C.Table.INTERACTIONS])
    assert codes_of(coded[C.Table.INTERACTIONS][C.EVENT]) is None
    assert codes_of(coded[C.Table.INTERACTIONS][C.USER_ID]) is not None
    a, b = build_interactions(plain), build_interactions(coded[C.Table.INTERACTIONS])
    assert same_matrix(a.matrix, b.matrix)


def test_loaded_dataset_carries_codes(small_workspace_template) -> None:
    from recsys.workspace.store import Workspace

    ws = Workspace(small_workspace_template.path)
    data = ws.load_dataset(small_workspace_template.dataset_id)
    for table, frame in ((C.Table.INTERACTIONS, data.interactions), (C.Table.USERS, data.users)):
        pd.testing.assert_frame_equal(frame, pd.read_parquet(ws.table_path(data.info.id, table)))
    assert codes_of(data.interactions[C.USER_ID]).vocabulary is codes_of(data.users[C.USER_ID]).vocabulary
    assert codes_of(data.interactions[C.ITEM_ID]).vocabulary is codes_of(data.items[C.ITEM_ID]).vocabulary


def test_appended_versions_load_with_codes_across_batches(tmp_path) -> None:
    from recsys.workspace.ingest import append_files, import_files
    from recsys.workspace.store import Workspace

    header = "customer_id,offer_id,event_type,date\n"
    (tmp_path / "orders.csv").write_text(header + "u1,o1,click,2026-01-01\nu2,o2,redeem,2026-01-02\n", encoding="utf-8")
    (tmp_path / "day2.csv").write_text(header + "u3,o1,click,2026-01-03\nu1,o3,purchase,2026-01-04\n", encoding="utf-8")
    ws = Workspace(tmp_path / "ws")
    info, _ = import_files(ws, tmp_path / "orders.csv", name="shop")
    append_files(ws, info.id, tmp_path / "day2.csv")
    latest, first = ws.load_dataset(info.id), ws.load_dataset(info.id, version=0)
    coded = codes_of(latest.interactions[C.USER_ID])
    assert coded is not None and coded.vocabulary.take(coded.codes).to_pylist() == ["u1", "u2", "u3", "u1"]
    assert codes_of(first.interactions[C.USER_ID]).vocabulary.take(codes_of(first.interactions[C.USER_ID]).codes).to_pylist() \
        == ["u1", "u2"]
    plain = latest.interactions.copy()
    plain[C.USER_ID] = plain[C.USER_ID].astype(object).astype("str")  # other Arrow data: no codes
    assert codes_of(plain[C.USER_ID]) is None
    a, b = build_interactions(plain), build_interactions(latest.interactions)
    assert same_matrix(a.matrix, b.matrix) and b.user_index.ids.tolist() == ["u1", "u2", "u3"]


def test_files_of_many_row_groups_promise_codes_made_on_first_need(small_shop, small_shop_schemas, tmp_path) -> None:
    import pyarrow.parquet as pq

    paths = write_tables(small_shop, tmp_path, row_group_size=500)  # a dictionary per row group
    assert pq.ParquetFile(paths[C.Table.INTERACTIONS]).metadata.num_row_groups > 1
    coded = read_coded_tables(paths, DATASET_CODES)
    plain = {t: pd.read_parquet(p) for t, p in paths.items()}
    for table in C.Table:
        pd.testing.assert_frame_equal(coded[table], plain[table])
    inter = coded[C.Table.INTERACTIONS]
    user_codes = codes_of(inter[C.USER_ID])  # made now, for both tables at once
    assert user_codes is not None and user_codes.vocabulary is codes_of(coded[C.Table.USERS][C.USER_ID]).vocabulary
    assert user_codes.vocabulary.take(user_codes.codes).to_pylist() == inter[C.USER_ID].tolist()
    user_schema, _ = small_shop_schemas
    built = []
    for frames in (plain, coded):
        im = build_interactions(frames[C.Table.INTERACTIONS])
        ub = FeatureBuilder(user_schema, C.USER_ID, FeatureConfig()).fit(frames[C.Table.USERS], im.user_index)
        built.append((im.matrix, ub.transform(frames[C.Table.USERS], im.user_index.ids)))
    assert same_matrix(built[0][0], built[1][0]) and same_matrix(built[0][1], built[1][1])


def _made_now(values) -> bool:
    """Whether the codes of this column were made by the read itself (not promised for later)."""
    from recsys.core import codes as codes_module

    entry = codes_module._REGISTRY.get(id(codes_module.arrow_data(values)))
    return entry is not None and isinstance(entry[1], IdCodes)


def test_small_dictionaries_of_many_row_groups_give_codes_at_read(small_shop, tmp_path) -> None:
    """Offers and events (a few distinct values in every row group) are read as their dictionaries even
    when the file has many row groups; the customers of the same file (a dictionary about as large as
    the row group) are promised. Both give the ids' true codes and the same matrices as plain text."""
    import pyarrow.parquet as pq

    from recsys.data.coded import cheap_dictionaries

    inter = pd.concat([small_shop.interactions] * 3, ignore_index=True)  # each offer many times per row group
    inter[C.USER_ID] = inter[C.USER_ID] + pd.Series(np.arange(len(inter)) % 7, dtype="str")  # customers rarely repeat
    paths = write_tables(small_shop, tmp_path, interactions=inter, row_group_size=2_000)
    f = paths[C.Table.INTERACTIONS]
    assert pq.ParquetFile(f).metadata.num_row_groups > 1
    assert cheap_dictionaries(f, C.ITEM_ID) and cheap_dictionaries(f, C.EVENT)
    assert not cheap_dictionaries(f, C.USER_ID) and not cheap_dictionaries(f, "no such column")
    coded = read_coded_tables(paths, DATASET_CODES)
    plain = {t: pd.read_parquet(p) for t, p in paths.items()}
    for table in C.Table:
        pd.testing.assert_frame_equal(coded[table], plain[table])
    frame = coded[C.Table.INTERACTIONS]
    assert _made_now(frame[C.ITEM_ID]) and _made_now(frame[C.EVENT]) and _made_now(coded[C.Table.ITEMS][C.ITEM_ID])
    assert not _made_now(frame[C.USER_ID])
    for col, table in ((C.USER_ID, C.Table.USERS), (C.ITEM_ID, C.Table.ITEMS), (C.EVENT, None)):
        got = codes_of(frame[col])
        assert got is not None and got.vocabulary.take(got.codes).to_pylist() == frame[col].tolist()
        if table is not None:
            assert codes_of(coded[table][col]).vocabulary is got.vocabulary  # one vocabulary per id column
    a, b = build_interactions(plain[C.Table.INTERACTIONS]), build_interactions(frame)
    assert same_matrix(a.matrix, b.matrix) and a.item_index.ids.tolist() == b.item_index.ids.tolist()


def test_files_written_by_duckdb_read_their_offers_as_dictionaries(small_shop, tmp_path) -> None:
    """DuckDB's COPY (the engine import) writes small row groups: a dictionary where the values repeat,
    plain text where they hardly do. Offers come with codes from the file; customers are promised."""
    import duckdb
    import pyarrow.parquet as pq

    from recsys.data.coded import cheap_dictionaries

    paths = write_tables(small_shop, tmp_path)
    inter = pd.concat([small_shop.interactions] * 4, ignore_index=True)
    inter[C.USER_ID] = inter[C.USER_ID] + pd.Series(np.arange(len(inter)) % 7, dtype="str")  # customers rarely repeat
    with duckdb.connect() as con:
        con.register("inter", inter)
        con.execute(f"COPY inter TO '{paths[C.Table.INTERACTIONS]}' (FORMAT parquet, ROW_GROUP_SIZE 2048)")
    f = paths[C.Table.INTERACTIONS]
    assert pq.ParquetFile(f).metadata.num_row_groups > 1
    assert cheap_dictionaries(f, C.ITEM_ID) and not cheap_dictionaries(f, C.USER_ID)
    coded = read_coded_tables(paths, DATASET_CODES)
    frame = coded[C.Table.INTERACTIONS]
    pd.testing.assert_frame_equal(frame, pd.read_parquet(paths[C.Table.INTERACTIONS]))
    assert _made_now(frame[C.ITEM_ID]) and not _made_now(frame[C.USER_ID])
    for col in (C.USER_ID, C.ITEM_ID):
        got = codes_of(frame[col])
        assert got is not None and got.vocabulary.take(got.codes).to_pylist() == frame[col].tolist()
