"""Validate and clean one mapped table: the interactions file, or a users or items file.

:class:`ImportContext` collects, for one import, every blocking problem of every file (so the
user sees them all at once), the warnings and the :class:`~recsys.data.validate.CleaningReport`.
:func:`prepare_interactions` turns the interactions file into the canonical columns (ids, event,
timestamp, weight, value), dropping and reporting cancellations, returns, refunds, duplicates and
unreadable or future dates; :func:`prepare_entity` does the same for a users or items file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa

from recsys.core import columns as C
from recsys.core.arrays import factorize
from recsys.core.i18n import N_, fill
from recsys.core.i18n import gettext as _
from recsys.data import privacy
from recsys.data.files import LoadedTable
from recsys.data.mapping import ImportOptions
from recsys.data.parse import merge_leading_zeros, naive_utc, normalise_ids, parse_timestamps
from recsys.data.validate import (
    CleaningReport,
    Problem,
    bad_share_problem,
    duplicate_key_problem,
    empty_id_problem,
    example_rows,
    confusable_id_problem,
    invisible_id_problem,
    LABELS,
    label,
    leading_zero_problem,
    long_id_problem,
    negative_problem,
    non_number_problem,
    to_number,
)

_DATE_FIX = N_("Correct or delete these rows, map a different column to the date/time, or allow more "
               "rows to be dropped ('Rows with a bad date that may be dropped' in the Data page's import "
               "options, now {share}).")

class ImportContext:
    """Per-import state shared by the table steps: problems, warnings and the report."""

    def __init__(self, options: ImportOptions, *, check_personal_ids: bool = True) -> None:
        self.options = options
        #: False when the caller checks the customer ids of the whole file for personal data itself
        #: (the engine import's first rows: :func:`recsys.data.engine_import._personal_ids`).
        self.check_personal_ids = check_personal_ids
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []
        self.report = CleaningReport()

    def add(self, problem: Problem | None) -> None:
        if problem is None:
            return
        (self.warnings if problem.severity == "warning" else self.problems).append(problem)

    def step(self, table: str, name: str, mask: np.ndarray, description: str, action: str = "dropped") -> None:
        count = int(np.count_nonzero(mask))
        self.report.add(table, name, count, description, example_rows(mask) if count else (), action)


def _id_column(
    ctx: ImportContext, raw: pd.DataFrame, theirs: str, canonical: str, file: str, table: str,
) -> tuple[pd.Series, np.ndarray] | None:
    """Normalised ids of one mapped id column with the checks every table shares."""
    ids, had_space = normalise_ids(raw[theirs])
    missing = ids.isna().to_numpy()
    if missing.all():
        ctx.add(empty_id_problem(file=file, column=theirs, canonical=canonical, rows=len(raw)))
        return None
    ctx.add(invisible_id_problem(ids, file=file, column=theirs, canonical=canonical))
    ctx.add(confusable_id_problem(ids, file=file, column=theirs, canonical=canonical))
    ctx.add(long_id_problem(ids, file=file, column=theirs, canonical=canonical))
    name = LABELS.get(canonical, canonical)  # step names stay English: they are the report's keys
    ctx.step(table, f"{name}: surrounding spaces removed", had_space,
             fill(_("{Label}s such as ' 123 ' were trimmed to '123' (column '{column}'), so ids that differ only "
                    "by spaces are one id."), Label=label(canonical).capitalize(), column=theirs), action="fixed")
    mode = ctx.options.leading_zero_ids
    if mode == "error":
        ctx.add(leading_zero_problem(ids, file=file, column=theirs, canonical=canonical))
    elif mode == "merge":
        ids, changed = merge_leading_zeros(ids)
        ctx.step(table, f"{name}: leading zeros removed", changed,
                 fill(_("Leading zeros were removed from {label}s (column '{column}'), so '007' and '7' are one id "
                        "(leading_zero_ids='merge')."), label=label(canonical), column=theirs), action="fixed")
    return ids, missing


def _check_personal_user_ids(ctx: ImportContext, ids: pd.Series, theirs: str, file: str) -> str | None:
    reason = privacy.id_identifier_reason(theirs, ids)
    if reason is None:
        return None
    if ctx.options.pseudonymise_key is None:
        ctx.add(Problem(
            file, theirs, (), 0,
            fill(_("the customer ids in column '{column}' are personal data ({reason})"), column=theirs, reason=reason),
            _("Turn on pseudonymisation (the Data page switch 'Pseudonymise customer ids', or "
              "ImportOptions.pseudonymise_key=privacy.new_key()) so they are replaced by keyed pseudonyms, "
              "or map a customer number column to user_id instead."),
        ))
    else:
        ctx.add(Problem(file, theirs, (), 0,
                        fill(_("the customer ids in column '{column}' are personal data ({reason}); "
                               "they were replaced by keyed pseudonyms"), column=theirs, reason=reason),
                        _("Keep the pseudonymisation key safe to match results back to customers."), "warning"))
    return reason


def _numeric_column(
    ctx: ImportContext, raw: pd.DataFrame, mapping: dict[str, str], canonical: str, file: str,
) -> pd.Series | None:
    theirs = mapping.get(canonical)
    if theirs is None:
        return None
    numbers, bad = to_number(raw[theirs])
    ctx.add(non_number_problem(raw[theirs], bad, file=file, column=theirs, canonical=canonical))
    return numbers
def _take_text(categories: Sequence[str], codes: np.ndarray) -> pd.Series:
    """A text column from category names and codes (built by Arrow: no per-row Python objects)."""
    dictionary = pa.array(list(categories), type=pa.string())
    return dictionary.take(pa.array(codes, type=pa.int64())).to_pandas().astype("str").reset_index(drop=True)


def _events(
    ctx: ImportContext, raw: pd.DataFrame, mapping: dict[str, str], default: str, table: str,
) -> tuple[np.ndarray, list[str]]:
    """Event codes per row and the event names (lower case, trimmed; missing -> ``default``)."""
    theirs = mapping.get(C.EVENT)
    if theirs is None:
        return np.zeros(len(raw), dtype=np.int64), [default]
    codes, distinct = factorize(raw[theirs])
    names = pd.Series(distinct.astype(str), dtype="str").str.strip().str.lower()  # distinct values only
    names = names.replace(C.EVENT_ALIASES)  # 购买 -> purchase, 核销 -> redeem, ...
    blank = (names == "").to_numpy(dtype=bool, na_value=True)
    names = names.where(~blank, default)
    event_names = [str(e) for e in pd.unique(pd.concat([names, pd.Series([default], dtype="str")]))]
    remap = pd.Index(event_names).get_indexer(names)
    valid = codes >= 0
    final = np.full(len(codes), event_names.index(default), dtype=np.int64)
    final[valid] = remap[codes[valid]]
    missing = ~valid
    if blank.any():
        missing[valid] |= blank[codes[valid]]
    ctx.step(table, "event type missing", missing,
             fill(_("Rows without an event type (column '{column}') were given the event '{event}'."),
                  column=theirs, event=default), action="fixed")
    return final, event_names


def prepare_interactions(
    ctx: ImportContext, loaded: LoadedTable, mapping: dict[str, str],
) -> tuple[pd.DataFrame, np.ndarray, dict[str, str], dict[str, tuple[np.ndarray, pd.Index]]] | None:
    """Validate and clean the interactions file; None when it has blocking problems.

    Returns the canonical frame, the mask of kept raw rows, the identifier columns found and the
    codes of the user and item ids (per raw row, with their distinct values) for reuse.
    """
    raw, file, table, opts = loaded.frame, loaded.name, C.Table.INTERACTIONS.value, ctx.options
    n = len(raw)
    errors_before = len(ctx.problems)
    ctx.report.rows_in[table] = n

    user = _id_column(ctx, raw, mapping[C.USER_ID], C.USER_ID, file, table)
    item = _id_column(ctx, raw, mapping[C.ITEM_ID], C.ITEM_ID, file, table)
    quantity = _numeric_column(ctx, raw, mapping, C.QUANTITY, file)
    unit_price = _numeric_column(ctx, raw, mapping, C.UNIT_PRICE, file)
    value = _numeric_column(ctx, raw, mapping, C.VALUE, file)
    weight = _numeric_column(ctx, raw, mapping, C.WEIGHT, file)
    if weight is not None:
        ctx.add(negative_problem(weight, file=file, column=mapping[C.WEIGHT], canonical=C.WEIGHT))
    if user is not None and ctx.check_personal_ids:
        _check_personal_user_ids(ctx, user[0], mapping[C.USER_ID], file)
    identifiers = privacy.find_identifiers(raw, skip=mapping.values())

    drop = np.zeros(n, dtype=bool)
    if user is not None:
        ctx.step(table, "rows without a customer id", user[1],
                 fill(_("Rows with an empty customer id (column '{column}') cannot be linked to anyone."),
                      column=mapping[C.USER_ID]))
        drop |= user[1]
    if item is not None:
        ctx.step(table, "rows without an item id", item[1],
                 fill(_("Rows with an empty item id (column '{column}') cannot be linked to an item."),
                      column=mapping[C.ITEM_ID]))
        drop |= item[1]

    codes: dict[str, tuple[np.ndarray, pd.Index]] = {}
    known: dict[str, np.ndarray] = {}
    for canonical, ids in ((C.USER_ID, user), (C.ITEM_ID, item)):
        if ids is not None:
            id_codes, distinct = factorize(ids[0])
            codes[canonical] = (id_codes, distinct.astype(ids[0].dtype))  # factorize gives Arrow text as object
            known[mapping[canonical]] = codes[canonical][0]
    has_time_or_order = C.TIMESTAMP in mapping or C.ORDER_ID in mapping
    duplicated = duplicated_rows(raw, known)
    if has_time_or_order:
        ctx.step(table, "exact duplicate rows", duplicated,
                 _("Rows identical in every column to an earlier row (sent twice) were dropped; the first copy is "
                   "kept."))
        drop |= duplicated
    else:
        ctx.step(table, "exact duplicate rows", duplicated,
                 _("Rows identical in every column to an earlier row were kept: without a date or order column "
                   "they may be real repeat interactions."), action="kept")

    if C.ORDER_ID in mapping:
        orders = raw[mapping[C.ORDER_ID]]
        if isinstance(orders.dtype, pd.CategoricalDtype):
            orders = orders.astype(orders.cat.categories.dtype)
        orders = orders.astype("str").str.strip()
        prefixed = orders.str.fullmatch(r"[Cc]\d+").to_numpy(dtype=bool, na_value=False)
        numeric_orders = orders.str.fullmatch(r"\d+").to_numpy(dtype=bool, na_value=False)
        cancelled = prefixed if prefixed.any() and numeric_orders.mean() >= 0.5 else np.zeros(n, dtype=bool)
        ctx.step(table, "cancellations", cancelled,
                 fill(_("Order lines whose order id (column '{column}') starts with 'C' are cancellations."),
                      column=mapping[C.ORDER_ID]))
        drop |= cancelled
    if item is not None and not opts.keep_non_product_lines:
        name = C.name_column(c for c in raw.columns if c not in mapping.values())
        item_codes = np.where(drop, -1, codes[C.ITEM_ID][0])  # learnt from the lines still kept
        lines, rule = non_product_lines(item_codes, codes[C.ITEM_ID][1], None if name is None else raw[name],
                                        None if unit_price is None else unit_price.to_numpy(dtype="float64"))
        ctx.step(table, NON_PRODUCT_STEP, lines, rule)
        drop |= lines
    if quantity is not None:
        q = quantity.to_numpy()
        ctx.step(table, "returns (negative quantity)", q < 0,
                 fill(_("Rows with a negative quantity (column '{column}') are returns or corrections."),
                      column=mapping[C.QUANTITY]))
        ctx.step(table, "zero quantity", q == 0,
                 fill(_("Rows with quantity 0 (column '{column}') record nothing bought."), column=mapping[C.QUANTITY]))
        drop |= (q <= 0)
    if unit_price is not None:
        p = unit_price.to_numpy()
        ctx.step(table, "negative unit price", p < 0,
                 fill(_("Rows with a negative unit price (column '{column}') are accounting adjustments."),
                      column=mapping[C.UNIT_PRICE]))
        ctx.step(table, "zero unit price", p == 0,
                 fill(_("Rows with unit price 0 (column '{column}') were kept (free items or samples)."),
                      column=mapping[C.UNIT_PRICE]),
                 action="kept")
        drop |= p < 0
    if value is not None:
        v = value.to_numpy()
        ctx.step(table, "negative value (refunds)", v < 0,
                 fill(_("Rows with a negative value (column '{column}') are refunds or corrections."),
                      column=mapping[C.VALUE]))
        drop |= v < 0

    timestamps: pd.Series | None = None
    if C.TIMESTAMP in mapping:
        theirs = mapping[C.TIMESTAMP]
        parsed, missing_ts, bad_ts = parse_timestamps(raw[theirs])
        now = pd.Timestamp.now(tz="UTC").tz_localize(None) if opts.now is None else pd.Timestamp(opts.now)
        if now.tzinfo is not None:
            now = now.tz_convert("UTC").tz_localize(None)
        future = (parsed > now + pd.Timedelta(days=1)).to_numpy(dtype=bool, na_value=False)
        unusable = missing_ts | bad_ts
        samples = (", ".join(f"'{v}'" for v in pd.unique(raw[theirs][bad_ts].astype(str).str.slice(0, 30))[:3]))
        ctx.add(bad_share_problem(
            unusable, file=file, column=theirs, canonical=C.TIMESTAMP,
            what=(_("{have} no date or one that cannot be read as a date")
                  + (fill(_(" (e.g. {examples})"), examples=samples) if samples else "")),
            max_share=opts.max_bad_share, fix=fill(_(_DATE_FIX), share=f"{opts.max_bad_share:.1%}")))
        ctx.add(bad_share_problem(
            future, file=file, column=theirs, canonical=C.TIMESTAMP,
            what=fill(_("{are} dated in the future (after {day})"), day=f"{now:%Y-%m-%d}"),
            max_share=opts.max_bad_share,
            fix=(_("Check the date format (day and month swapped?) and the year. ")
                 + fill(_(_DATE_FIX), share=f"{opts.max_bad_share:.1%}"))))
        ctx.step(table, "missing or unreadable dates", unusable,
                 fill(_("Rows whose date (column '{column}') is empty or cannot be read as a date."), column=theirs))
        ctx.step(table, "dates in the future", future,
                 fill(_("Rows dated after {day} (plus one day of slack; column '{column}')."),
                      day=f"{now:%Y-%m-%d}", column=theirs))
        drop |= unusable | future
        timestamps = parsed

    if len(ctx.problems) > errors_before or user is None or item is None:
        return None
    keep = ~drop
    if not keep.any():
        ctx.add(Problem(file, None, (), n,
                        fill(_("no usable rows are left after cleaning (all {n} rows were dropped; see the cleaning "
                               "steps)"), n=f"{n:,}"),
                        _("Check that the right columns are mapped to the customer id and item id, and the date "
                          "format.")))
        return None

    default_event = C.PURCHASE if (C.VALUE in mapping or C.QUANTITY in mapping) else C.INTERACTION
    event_codes, event_names = _events(ctx, raw, mapping, default_event, table)
    weights = opts.weights()
    per_event = np.array([weights.get(e, 1.0) for e in event_names], dtype="float64")  # one per event type
    if weight is None:
        weight_values = per_event[event_codes]
    else:
        missing_weight = weight.isna().to_numpy()
        weight_values = weight.to_numpy(dtype="float64", copy=True)
        if missing_weight.any():
            weight_values[missing_weight] = per_event[event_codes[missing_weight]]
        ctx.step(table, "weight missing", missing_weight,
                 fill(_("Rows without a weight (column '{column}') got the weight of their event type."),
                      column=mapping[C.WEIGHT]), action="fixed")
    if value is not None:
        value_values = value.to_numpy(dtype="float64")
    elif quantity is not None and unit_price is not None:
        value_values = quantity.to_numpy(dtype="float64") * unit_price.to_numpy(dtype="float64")
    else:
        value_values = np.full(n, np.nan)
    if timestamps is None:
        ts_values = np.full(int(keep.sum()), np.datetime64("NaT"), dtype="datetime64[ns]")
    else:
        ts_values = timestamps[keep].to_numpy().astype("datetime64[ns]")
    assert user is not None and item is not None
    out = pd.DataFrame({
        C.USER_ID: user[0][keep].reset_index(drop=True),
        C.ITEM_ID: item[0][keep].reset_index(drop=True),
        C.EVENT: _take_text(event_names, event_codes[keep]),
        C.TIMESTAMP: ts_values,
        C.WEIGHT: weight_values[keep],
        C.VALUE: value_values[keep],
    })
    ctx.report.rows_out[table] = len(out)
    return out, keep, identifiers, codes

NON_PRODUCT_STEP = "non-product lines (postage, fees, adjustments)"
#: Names of lines that are not offers (compared whole, in lower case): postage, carriage, fees, ...
NON_PRODUCT_NAMES = (r"(dotcom )?postage|carriage|shipping|delivery( charges?)?|manual|discount|samples?|"
                     r"bank charges?|amazon ?fee|.*\bfees?|.*\bcommission|adjust.*|gift ?voucher.*")
#: A catalogue has product codes when at least this share of its distinct codes hold a digit.
PRODUCT_CODE_SHARE = 0.8


def non_product_lines(
    item_codes: np.ndarray, items: pd.Index, names: pd.Series | None, prices: np.ndarray | None,
) -> tuple[np.ndarray, str]:
    """Which lines are postage, fees or manual adjustments rather than offers, and the rule in words.

    Learnt from the data, per distinct code (``item_codes`` index ``items``; -1 = no code):

    * a **non-product code**: when at least 80% of the codes hold a digit (product codes such as
      85123A), a code of at most 4 characters without one (Online Retail's POST, DOT, M, D, S);
    * a **non-product name** (the offers' name column, whole): postage, carriage, manual, discount,
      samples, bank charges, ... fee, ... commission, adjust ... (BANK CHARGES, AMAZONFEE, C2 "CARRIAGE");
    * **zero price**: every line of the code has unit price 0 or less.

    >>> codes, ids = np.array([0, 1, 2, 3, 0]), pd.Index(["85123A", "POST", "22423", "C2"])
    >>> names = pd.Series(["LANTERN", "POSTAGE", "REGENCY CAKESTAND", "CARRIAGE", "LANTERN"])
    >>> non_product_lines(codes, ids, names, None)[0].tolist()
    [False, True, False, True, False]
    """
    text = pd.Series(items.astype(str), dtype=object).str.strip()
    flagged = np.zeros(len(items), dtype=bool)
    found: list[str] = []
    has_digit = text.str.contains(r"\d", regex=True).to_numpy(dtype=bool)
    if len(items) and has_digit.mean() >= PRODUCT_CODE_SHARE:
        short = ~has_digit & (text.str.len() <= 4).to_numpy(dtype=bool)
        flagged |= short
        if short.any():
            found.append("a short code without digits among product codes that have them")
    valid = item_codes >= 0
    if names is not None:
        named = names.astype("string").str.strip().str.lower().str.fullmatch(NON_PRODUCT_NAMES)
        hits = np.unique(item_codes[valid & named.to_numpy(dtype=bool, na_value=False)])
        if len(hits):
            flagged[hits] = True
            found.append(f"a name such as postage, carriage, manual, discount, samples or fees (column '{names.name}')")
    if prices is not None:
        priced = valid & ~np.isnan(prices)
        paid = np.bincount(item_codes[priced], weights=(prices[priced] > 0), minlength=len(items))
        seen = np.bincount(item_codes[priced], minlength=len(items))
        free = (seen > 0) & (paid == 0)
        flagged |= free
        if free.any():
            found.append("a unit price of 0 on every line")
    mask = np.zeros(len(item_codes), dtype=bool)
    mask[valid] = flagged[item_codes[valid]]
    lines = np.bincount(item_codes[mask], minlength=len(items))
    order = np.argsort(-lines, kind="stable")[: int(np.count_nonzero(lines))]  # most lines first
    shown = ", ".join(map(str, text.iloc[order[:8]])) + (" ..." if len(order) > 8 else "")
    rule = ("Lines that are not offers (postage, fees, manual adjustments) were left out of the offers: "
            + ("; ".join(found) or "none found") + (f" (codes {shown})" if shown else "")
            + ". Import with 'keep non-product lines' to keep them.")
    return mask, rule


_HASH_MIX = np.uint64(0x9E3779B97F4A7C15)
_HASH_MUL = np.uint64(0xBF58476D1CE4E5B9)


def _hash_input(values: pd.Series) -> np.ndarray:
    """One uint64 per row that is equal for equal values (collisions allowed: checked exactly later)."""
    if pd.api.types.is_float_dtype(values) or pd.api.types.is_integer_dtype(values) or \
            pd.api.types.is_bool_dtype(values):
        numbers = values.to_numpy(dtype="float64", na_value=np.nan)
        # one bit pattern for every missing value, and -0.0 == 0.0
        return np.where(np.isnan(numbers), np.nan, numbers + 0.0).view(np.uint64)
    if pd.api.types.is_datetime64_any_dtype(values):
        return naive_utc(values).to_numpy().view(np.int64).astype(np.uint64)  # NaT is one value too
    codes, _uniques = factorize(values)
    return codes.astype(np.uint64)


def duplicated_rows(frame: pd.DataFrame, known: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
    """Rows identical to an earlier row in every column.

    Each row gets a hash mixed from its columns' codes (vectorised); only rows whose hash occurs
    more than once are compared exactly, so a hash collision can never drop a row. ``known`` gives
    codes already computed for some columns (equal values must have equal codes).
    """
    n = len(frame)
    if frame.shape[1] == 0 or n == 0:
        return np.zeros(n, dtype=bool)
    known = known or {}
    hashed = np.zeros(n, dtype=np.uint64)
    usable = []
    for i, name in enumerate(frame.columns):  # a loop over columns
        try:
            column = known[name].astype(np.uint64) if name in known else _hash_input(frame.iloc[:, i])
        except TypeError:  # unhashable values (lists): compare the other columns
            continue
        usable.append(i)
        salt = np.uint64(((i + 1) * int(_HASH_MIX)) % 2**64)
        hashed = (hashed ^ (column + salt)) * _HASH_MUL  # wraps around modulo 2**64 by design
        hashed ^= hashed >> np.uint64(31)
    if not usable:
        return np.zeros(n, dtype=bool)
    ordered = np.sort(hashed)
    repeated = ordered[1:] == ordered[:-1]
    if not repeated.any():  # the usual case, found by one sort
        return np.zeros(n, dtype=bool)
    candidates = pd.Series(hashed).isin(np.unique(ordered[1:][repeated])).to_numpy()
    result = np.zeros(n, dtype=bool)
    if candidates.any():
        positions = np.flatnonzero(candidates)
        result[positions] = frame.iloc[positions, usable].duplicated(keep="first").to_numpy()
    return result
def prepare_entity(
    ctx: ImportContext, loaded: LoadedTable, table: C.Table, mapping: dict[str, str],
) -> tuple[pd.DataFrame, dict[str, str]] | None:
    """Validate and clean a users or items file; None when it has blocking problems."""
    key = C.TABLE_KEYS[table][0]
    raw, file, name = loaded.frame, loaded.name, table.value
    theirs = mapping[key]
    errors_before = len(ctx.problems)
    ctx.report.rows_in[name] = len(raw)
    result = _id_column(ctx, raw, theirs, key, file, name)
    if result is None:
        return None
    ids, missing = result
    if key == C.USER_ID:
        _check_personal_user_ids(ctx, ids, theirs, file)
    ctx.step(name, f"rows without {'a customer' if key == C.USER_ID else 'an item'} id", missing,
             fill(_("Rows with an empty id (column '{column}') cannot be linked to interactions."), column=theirs))
    duplicated = duplicated_rows(raw)
    ctx.step(name, "exact duplicate rows", duplicated,
             _("Rows identical in every column to an earlier row were dropped; the first copy is kept."))
    keep = ~(missing | duplicated)
    kept_ids = ids[keep]
    problem = duplicate_key_problem(ids.where(keep), file=file, column=theirs, canonical=key, table=name)
    ctx.add(problem)
    if len(ctx.problems) > errors_before:
        return None
    frame = raw[keep].drop(columns=[theirs])
    if key in frame.columns:  # a column already called user_id / item_id that is not the mapped one
        frame = frame.rename(columns={key: f"{key} (original)"})
        ctx.add(Problem(file, key, (), 0, f"column '{key}' is not the mapped id column ('{theirs}'); it was renamed "
                        f"'{key} (original)'", "Map the column you mean as the id.", "warning"))
    frame.insert(0, key, kept_ids.to_numpy())
    frame = frame.reset_index(drop=True)
    frame[key] = frame[key].astype("str")
    identifiers = privacy.find_identifiers(frame, skip=[key])
    ctx.report.rows_out[name] = len(frame)
    return frame, identifiers


__all__ = ["ImportContext", "prepare_interactions", "prepare_entity", "duplicated_rows"]


#: Label of the reconciliation line of :func:`report_summary`.
OVERLAP_LINE = "rows dropped for more than one reason (counted once)"
TOTAL_LINE = "rows dropped in all"


def report_summary(report: CleaningReport) -> pd.DataFrame:
    """The cleaning report as a marketer reads it: only the rules that dropped rows, each with its
    share of the rows read, then a line for rows dropped by two rules and the total, so the lines
    add up to ``rows in - rows out`` of each table.

    Columns: ``table``, ``rule``, ``rows``, ``share`` (of the table's rows in, 0-1), ``what``.
    """
    frame = report.to_frame()
    dropped = frame[(frame["action"] == "dropped") & (frame["count"] > 0)]
    parts = []
    for table, rows_in in report.rows_in.items():  # two or three tables
        lines = dropped[dropped["table"] == table]
        total = rows_in - report.rows_out.get(table, rows_in)
        if total <= 0 and lines.empty:
            continue
        out = pd.DataFrame({"table": table, "rule": lines["name"], "rows": lines["count"], "what": lines["description"]})
        overlap = int(lines["count"].sum()) - total
        extra = [(OVERLAP_LINE if overlap > 0 else "other rows dropped", -overlap,
                  "A row can break two rules (a cancellation also has a negative quantity): it is dropped once.")
                 ] if overlap else []
        extra.append((TOTAL_LINE, total, f"{rows_in:,} rows read, {rows_in - total:,} kept."))
        out = pd.concat([out, pd.DataFrame(extra, columns=["rule", "rows", "what"]).assign(table=table)],
                        ignore_index=True)
        out["share"] = out["rows"] / rows_in if rows_in else 0.0
        parts.append(out)
    columns = ["table", "rule", "rows", "share", "what"]
    return pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)
