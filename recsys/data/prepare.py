"""Turn the user's files into a clean, canonical dataset.

:func:`prepare_dataset` reads the interactions file and the optional users and items files,
maps their columns onto the canonical ones (:func:`~recsys.data.mapping.guess_mapping` + the
user's overrides), validates them (collecting every blocking problem of every file before
raising), cleans them with a :class:`~recsys.data.validate.CleaningReport`, finds direct
identifiers and types the feature columns. :func:`prepare_tables` does the same for tables
already read (a batch of customers or offers only gets an empty interactions table).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from recsys.core import columns as C
from recsys.core.i18n import N_
from recsys.data import privacy
from recsys.data.clean import ImportContext, prepare_entity, prepare_interactions
from recsys.data.dataset import PreparedDataset, SourceInfo
from recsys.data.facts import fact_table
from recsys.data.files import LoadedTable, Source, display_name
from recsys.data.mapping import ImportOptions, load_source, resolve_mapping
from recsys.data.schema import infer_schema
from recsys.data.validate import DataError, Problem, check_mapping, strip_leading_zeros

#: Bump when cleaning changes what a given file and options produce (part of the fingerprint).
IMPORT_VERSION = 1


def _combine(file_frame: pd.DataFrame | None, facts: pd.DataFrame | None, key: str) -> pd.DataFrame:
    if file_frame is None and facts is None:
        return pd.DataFrame({key: pd.Series([], dtype="str")})
    if file_frame is None:
        return facts  # type: ignore[return-value]
    if facts is None:
        return file_frame
    extra = [c for c in facts.columns if c == key or c not in file_frame.columns]
    return file_frame.merge(facts[extra], on=key, how="outer", sort=False)


def _overlap_warning(ctx: ImportContext, name: str, file: str, ids: pd.Series, known: pd.Index, what: str) -> None:
    """Warn when none of a users/items file's ids occur in the interactions (``known``)."""
    mine = pd.Index(pd.unique(ids.dropna()))
    if len(mine) == 0 or len(known) == 0:
        return
    share = float(mine.isin(known).mean())
    if share == 0.0:
        stripped = float(pd.Index(strip_leading_zeros(pd.Series(mine, dtype="str"))).isin(
            strip_leading_zeros(pd.Series(known, dtype="str"))).mean())
        hint = (" They match once leading zeros are removed: set leading_zero_ids='merge'."
                if stripped > 0.5 else " Check that the right column is mapped as the id.")
        ctx.add(Problem(file, None, (), len(mine),
                        f"none of the {len(mine):,} {what}s in the {name} file appear in the interactions",
                        "Its facts cannot be used until the ids match." + hint, "warning"))


def dataset_fingerprint(
    sources: list[SourceInfo], mapping: dict[str, dict[str, str]], options: ImportOptions,
) -> str:
    """sha256 over the source hashes, the mapping and the options: equal inputs, equal fingerprint."""
    payload = {
        "version": IMPORT_VERSION,
        "sources": [[s.table, s.sha256] for s in sources],
        "mapping": {t: dict(sorted(m.items())) for t, m in sorted(mapping.items())},
        "options": options.fingerprint_dict(),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def empty_interactions() -> pd.DataFrame:
    """An interactions table without rows, with the dtypes :func:`prepare_dataset` produces."""
    return pd.DataFrame({
        C.USER_ID: pd.Series([], dtype="str"), C.ITEM_ID: pd.Series([], dtype="str"),
        C.EVENT: pd.Series([], dtype="str"), C.TIMESTAMP: pd.Series([], dtype="datetime64[ns]"),
        C.WEIGHT: pd.Series([], dtype="float64"), C.VALUE: pd.Series([], dtype="float64"),
    })


def prepare_dataset(
    interactions: Source,
    users: Source | None = None,
    items: Source | None = None,
    *,
    mapping: Mapping[str, Mapping[str, str | None]] | None = None,
    options: ImportOptions = ImportOptions(),
    names: Mapping[str, str] | None = None,
) -> PreparedDataset:
    """Read, map, validate and clean the files of one dataset.

    Parameters
    ----------
    interactions
        The interactions file (path, bytes or DataFrame): who did what with which item.
    users, items
        Optional files of facts about customers and items.
    mapping
        Overrides of the guessed column mapping: table name -> canonical -> the user's column
        (``None``/``""`` unmaps a guessed column).
    options
        See :class:`~recsys.data.mapping.ImportOptions`.
    names
        File names to show in messages, per table (e.g. the original names of uploads).

    Returns
    -------
    PreparedDataset

    Raises
    ------
    DataError
        With every blocking problem of every file, when there is any.
    """
    inputs: dict[C.Table, Source] = {C.Table.INTERACTIONS: interactions}
    if users is not None:
        inputs[C.Table.USERS] = users
    if items is not None:
        inputs[C.Table.ITEMS] = items
    names = dict(names or {})
    overrides = {str(k): dict(v) for k, v in (mapping or {}).items()}
    ctx = ImportContext(options)
    for p in options.problems():
        ctx.add(p)
    unknown_tables = set(overrides) - {t.value for t in C.Table}
    for t in sorted(unknown_tables):
        ctx.add(Problem("column mapping", None, (), 0, f"'{t}' is not a table",
                        "Use 'interactions', 'users' or 'items'."))

    loaded: dict[C.Table, LoadedTable] = {}
    for table, source in inputs.items():
        if table.value in names:
            shown = display_name(names[table.value])
        elif isinstance(source, (str, Path)):
            shown = Path(source).name
        else:
            shown = f"{table.value} table"
        try:
            loaded[table] = load_source(source, shown, table, overrides.get(table.value), options)
        except DataError as exc:
            for p in exc.problems + exc.warnings:
                ctx.add(p)
            continue
        for w in loaded[table].warnings:
            ctx.add(w)
    return prepare_tables(loaded, overrides, options, context=ctx)


def prepare_tables(
    loaded: Mapping[C.Table, LoadedTable],
    mapping: Mapping[str, Mapping[str, str | None]] | None = None,
    options: ImportOptions = ImportOptions(),
    *,
    context: ImportContext | None = None,
) -> PreparedDataset:
    """Map, validate and clean tables already read (the steps of :func:`prepare_dataset` after reading).

    Without an interactions table (a batch of customers and/or offers only) the result has an
    empty interactions table (:func:`empty_interactions`) and no facts taken from interactions.

    Parameters
    ----------
    loaded
        The tables as read (:func:`~recsys.data.mapping.load_source`), per table.
    mapping, options
        As for :func:`prepare_dataset`.
    context
        The import's context when problems were already collected (e.g. while reading); default:
        a new one.

    Raises
    ------
    DataError
        With every blocking problem of every table (and those already in ``context``).
    """
    overrides = {str(k): dict(v) for k, v in (mapping or {}).items()}
    ctx = context if context is not None else ImportContext(options)
    resolved: dict[str, dict[str, str]] = {}
    good: dict[C.Table, LoadedTable] = {}
    for table, table_loaded in loaded.items():
        cols = list(table_loaded.frame.columns)
        m = resolve_mapping(cols, table, overrides.get(table.value))
        resolved[table.value] = m
        problems = check_mapping(m, cols, table, table_loaded.name)
        if problems:
            for p in problems:
                ctx.add(p)
        else:
            good[table] = table_loaded

    prepared_interactions = None
    if C.Table.INTERACTIONS in good:
        prepared_interactions = prepare_interactions(ctx, good[C.Table.INTERACTIONS], resolved["interactions"])
    entities: dict[C.Table, tuple[pd.DataFrame, dict[str, str]] | None] = {}
    for table in (C.Table.USERS, C.Table.ITEMS):
        if table in good:
            entities[table] = prepare_entity(ctx, good[table], table, resolved[table.value])

    facts: dict[C.Table, pd.DataFrame | None] = {C.Table.USERS: None, C.Table.ITEMS: None}
    identifiers: dict[str, dict[str, str]] = {}
    if prepared_interactions is not None:
        out, keep, inter_identifiers, id_codes = prepared_interactions
        identifiers[C.Table.INTERACTIONS.value] = inter_identifiers
        raw = good[C.Table.INTERACTIONS].frame
        m = resolved["interactions"]
        excluded = set(m.values()) | set(inter_identifiers)
        facts[C.Table.USERS] = fact_table(ctx, raw, keep, id_codes[C.USER_ID], options.user_columns, excluded,
                                          C.USER_ID, good[C.Table.INTERACTIONS].name)
        item_excluded = excluded if options.item_columns is None else set(m.values())
        facts[C.Table.ITEMS] = fact_table(ctx, raw, keep, id_codes[C.ITEM_ID], options.item_columns, item_excluded,
                                          C.ITEM_ID, good[C.Table.INTERACTIONS].name)

    if ctx.problems:
        raise DataError(ctx.problems, ctx.warnings)
    # Without problems, interactions are missing only when none were given.
    interactions_frame = empty_interactions() if prepared_interactions is None else prepared_interactions[0]

    for table, entity in entities.items():
        if entity is not None:
            identifiers[table.value] = entity[1]
    for table_name, found in identifiers.items():  # before facts copy interaction identifiers
        file = good[C.Table(table_name)].name
        for column, reason in found.items():
            ctx.add(Problem(file, column, (), 0,
                            f"column '{column}' holds direct identifiers ({reason})",
                            N_("Nothing to do: it is never used as a model feature and never exported."), "warning"))

    frames: dict[C.Table, pd.DataFrame] = {}
    for table, key, what in ((C.Table.USERS, C.USER_ID, "customer id"), (C.Table.ITEMS, C.ITEM_ID, "item id")):
        entity = entities.get(table)
        if entity is not None and prepared_interactions is not None:
            _, keep, _, id_codes = prepared_interactions
            codes, distinct = id_codes[key]
            seen = distinct[np.bincount(codes[keep], minlength=len(distinct)) > 0]
            _overlap_warning(ctx, table.value, good[table].name, entity[0][key], seen, what)
        frames[table] = _combine(entity[0] if entity is not None else None, facts[table], key)
        if prepared_interactions is not None:
            table_ids = identifiers.setdefault(table.value, {})
            for column, reason in identifiers[C.Table.INTERACTIONS.value].items():
                if column in frames[table].columns:  # an identifier the user chose as a fact
                    table_ids.setdefault(column, reason)

    if options.pseudonymise_key is not None:
        key = options.pseudonymise_key
        interactions_frame[C.USER_ID] = privacy.pseudonymise(interactions_frame[C.USER_ID], key)
        frames[C.Table.USERS][C.USER_ID] = privacy.pseudonymise(frames[C.Table.USERS][C.USER_ID], key)
        # Pseudonyms are reversible while the identifiers they replace sit next to them: drop those.
        drop = {t: [c for c in identifiers.get(t.value, {}) if c != C.USER_ID] for t in (C.Table.INTERACTIONS, C.Table.USERS)}
        interactions_frame = interactions_frame.drop(columns=drop[C.Table.INTERACTIONS], errors="ignore")
        frames[C.Table.USERS] = frames[C.Table.USERS].drop(columns=drop[C.Table.USERS], errors="ignore")

    sources = [SourceInfo(t.value, lt.name, lt.sha256, lt.bytes, len(lt.frame)) for t, lt in loaded.items()]
    user_schema = infer_schema(frames[C.Table.USERS], C.USER_ID, set(identifiers.get("users", {})))
    item_schema = infer_schema(frames[C.Table.ITEMS], C.ITEM_ID, set(identifiers.get("items", {})))
    user_facts = tuple(c for c in (facts[C.Table.USERS].columns if facts[C.Table.USERS] is not None else ())
                       if c != C.USER_ID)
    item_facts = tuple(c for c in (facts[C.Table.ITEMS].columns if facts[C.Table.ITEMS] is not None else ())
                       if c != C.ITEM_ID)
    return PreparedDataset(
        interactions=interactions_frame,
        users=frames[C.Table.USERS],
        items=frames[C.Table.ITEMS],
        user_schema=user_schema,
        item_schema=item_schema,
        mapping=resolved,
        report=ctx.report,
        warnings=ctx.warnings,
        sources=sources,
        identifiers=identifiers,
        fingerprint=dataset_fingerprint(sources, resolved, options),
        user_facts=user_facts,
        item_facts=item_facts,
    )


__all__ = ["IMPORT_VERSION", "prepare_dataset", "prepare_tables", "dataset_fingerprint", "empty_interactions"]
