"""Codes made by hashing text columns (:func:`recsys.core.codes.hashed_codes`): ids packed into
integers (up to 7 bytes: one word; up to 15: two, mixed into one key and checked) must give exactly
the vocabulary and codes of Arrow's dictionary encoding of the text."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from recsys.core import codes as codes_module
from recsys.core.codes import hashed_codes, shared_codes

# Ids that packing must keep apart: the empty id, a trailing NUL byte, 7 bytes exactly, multi-byte text.
TRICKY = ["", "a", "a\x00", "\x00", "\x00a", "abcdefg", "abcdef", "é", "中文", "e\u0301", "C000123", "C000124"]
# ... and in two words: 8 and 15 bytes exactly, NUL bytes at the word boundary, multi-byte text across it.
TWO_WORDS = ["abcdefgh", "abcdefgh\x00", "abcdefg\x00", "4711000012345", "4711000012346", "123456789012345",
             "12345678901234", "中文中文中", "abcdefg中"]


def chunked(values: list, kind: pa.DataType, cuts: tuple[int, ...] = ()) -> pa.ChunkedArray:
    """``values`` as a chunked column cut at ``cuts``, each chunk a slice of one array (non-zero offsets)."""
    whole = pa.array(values, type=kind)
    bounds = [0, *cuts, len(values)]
    return pa.chunked_array([whole.slice(a, b - a) for a, b in zip(bounds, bounds[1:])], type=kind)


def by_text(columns: list[pa.ChunkedArray]):
    """The reference: Arrow's dictionary encoding of the text, merged into one vocabulary."""
    return shared_codes([pc.dictionary_encode(c) for c in columns])


@pytest.mark.parametrize("kind", [pa.string(), pa.large_string()])
@pytest.mark.parametrize("longest", [7, 15, 16])
def test_hashed_codes_equal_the_dictionary_encoding_of_the_text(kind, longest) -> None:
    rng = np.random.default_rng(7)
    pool = TRICKY + (TWO_WORDS if longest > 7 else []) + (["a customer id longer than 15 bytes"] if longest > 15 else [])
    assert max(len(x.encode()) for x in pool) == (34 if longest > 15 else longest)
    first = [pool[i] for i in rng.integers(0, len(pool), 500)]
    second = [pool[i] for i in rng.integers(0, len(pool), 60)] + ["only here, nowhere else"[:longest]]
    columns = [chunked(first, kind, (1, 123, 124, 400)), chunked(second, kind, (30,))]
    assert any(c.offset for c in columns[0].chunks)  # sliced chunks are read from their offset
    got, want = hashed_codes(columns), by_text(columns)
    assert got[0].vocabulary is got[1].vocabulary and len(set(got[0].vocabulary.to_pylist())) == len(got[0].vocabulary)
    for column, g, w in zip(columns, got, want):
        assert g.codes.dtype == np.int32
        assert g.vocabulary.take(pa.array(g.codes)).to_pylist() == column.to_pylist()
        assert g.codes.tolist() == w.codes.tolist() and g.vocabulary.to_pylist() == w.vocabulary.to_pylist()


def test_ids_are_packed_in_one_word_up_to_7_bytes_two_up_to_15() -> None:
    short = [pa.chunked_array([["C000123", "é", ""]])]
    low, high = codes_module._pack(short)
    assert high is None and len(low) == 3 and len(set(low.tolist())) == 3
    low, high = codes_module._pack(short + [pa.chunked_array([["中文中"]])])  # 3 characters, 9 bytes
    assert high is not None and len(low) == len(high) == 4
    assert codes_module._pack(short + [pa.chunked_array([["C00012345678901234"]])]) is None  # 18 bytes


def test_two_ids_sharing_a_key_send_the_columns_the_text_way(monkeypatch) -> None:
    """Two words are mixed into one key: every row is checked, and a shared key is no shared code."""
    columns = [pa.chunked_array([["4711000012345", "4711000012346", "4711000012345", "x"]])]
    assert codes_module._packed_codes(columns) is not None
    monkeypatch.setattr(codes_module, "_MIX", np.uint64(0))  # every id of one low word shares a key
    assert codes_module._packed_codes(columns) is None
    (got,) = hashed_codes(columns)
    assert got.codes.tolist() == [0, 1, 0, 2] and got.vocabulary.to_pylist() == ["4711000012345", "4711000012346", "x"]


def test_a_column_with_a_missing_id_gets_no_codes_and_adds_no_ids() -> None:
    columns = [pa.chunked_array([["b", "a", "b"]]), pa.chunked_array([["zz", None]]), pa.chunked_array([[], ["a"]], pa.string())]
    first, missing, last = hashed_codes(columns)
    assert missing is None and first.vocabulary.to_pylist() == ["b", "a"]
    assert first.codes.tolist() == [0, 1, 0] and last.codes.tolist() == [1] and last.vocabulary is first.vocabulary
    assert hashed_codes([]) == [] and hashed_codes([pa.chunked_array([], pa.string())])[0].codes.tolist() == []


@pytest.mark.parametrize("kind", [pa.string(), pa.large_string()])
@pytest.mark.parametrize("width", [0, 3, 7, 8, 13, 15])
def test_chunks_of_one_id_length_are_packed_as_blocks_with_the_same_codes(kind, width) -> None:
    """Customer numbers of one length are copied as a block; beside chunks of mixed lengths, the codes equal the text's."""
    rng = np.random.default_rng(width)
    numbers = [f"{n:0{width}d}"[-width:] if width else "" for n in rng.integers(0, 10 ** min(width, 4), 400)]
    mixed = [pool for pool in TRICKY + (TWO_WORDS if width > 7 else []) if len(pool.encode()) <= max(width, 7)]
    columns = [chunked(numbers, kind, (50, 51, 300)), chunked(mixed + numbers[:20], kind, (len(mixed),))]
    assert all(len(set(map(len, chunk.to_pylist()))) == 1 for chunk in columns[0].chunks)  # every chunk one length
    low, high = codes_module._pack(columns)
    assert (high is None) == (max(width, 7) <= 7) and len(low) == sum(len(c) for c in columns)
    got, want = hashed_codes(columns), by_text(columns)
    for column, g, w in zip(columns, got, want):
        assert g.vocabulary.take(pa.array(g.codes)).to_pylist() == column.to_pylist()
        assert g.codes.tolist() == w.codes.tolist() and g.vocabulary.to_pylist() == w.vocabulary.to_pylist()


def test_ids_of_one_high_word_need_no_check_and_others_still_get_it(monkeypatch) -> None:
    """8-byte ids all share their high word (the length): the key is then a bijection, and a broken mix can't merge them."""
    monkeypatch.setattr(codes_module, "_MIX", np.uint64(0))
    eight = [pa.chunked_array([["U0000001", "U0000002", "U0000001"]])]
    (got,) = codes_module._packed_codes(eight)
    assert got.codes.tolist() == [0, 1, 0] and got.vocabulary.to_pylist() == ["U0000001", "U0000002"]
    assert codes_module._packed_codes([pa.chunked_array([["U0000001", "U00000012"]])]) is None  # checked: shared key
