"""How the user's files are meant: the import options and the column mapping.

:func:`guess_mapping` matches the user's column names against
:data:`recsys.core.columns.ALIASES`; :func:`resolve_mapping` applies the user's overrides;
:func:`load_source` reads one table (path, bytes or DataFrame) keeping its mapped id columns as
text, so that "007" stays "007".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import pandas as pd

from recsys.core import columns as C
from recsys.core.i18n import fill
from recsys.core.i18n import gettext as _
from recsys.data import privacy
from recsys.data.files import (
    LIMIT_FIX,
    LoadedTable,
    ReadLimits,
    Source,
    file_error,
    frame_fingerprint,
    too_many_columns,
)
from recsys.data.read import load_table
from recsys.data.validate import DataError, Problem, check_duplicate_columns, long_cell_problems, normalise_name


@dataclass(frozen=True)
class ImportOptions:
    """How :func:`prepare_dataset` treats the data.

    Attributes
    ----------
    event_weights
        Weight of each event type; None uses :data:`recsys.core.columns.DEFAULT_EVENT_WEIGHTS`. Event
        names are compared in lower case; unknown events weigh 1.
    leading_zero_ids
        What to do when ids such as ``"007"`` and ``"7"`` occur in the same column: ``"error"``
        (stop and ask), ``"merge"`` (they are one id: leading zeros are removed everywhere) or
        ``"keep"`` (they are different ids).
    max_bad_share
        Unparseable or future timestamps are dropped (and reported) when they are at most this
        share of the rows; above it they block the import.
    now
        The present, for the future-date check (default: the current UTC time). One day of slack
        is allowed.
    pseudonymise_key
        When given, customer ids are replaced by keyed pseudonyms (see :mod:`recsys.data.privacy`).
    user_columns, item_columns
        Columns of the interactions file to turn into user / item facts. None guesses them: columns
        with a single value per user (item) for at least 95% of users (items), such as Country.
        ``()`` turns them off.
    limits
        The size, row and memory guards.
    delimiter
        The CSV delimiter; None detects it.
    keep_non_product_lines
        Keep lines that are not offers (postage, fees, manual adjustments; see
        :func:`recsys.data.clean.non_product_lines`). Off by default: they are dropped and reported.
    """

    event_weights: dict[str, float] | None = None
    leading_zero_ids: Literal["error", "merge", "keep"] = "error"
    max_bad_share: float = 0.01
    now: pd.Timestamp | None = None
    pseudonymise_key: bytes | None = None
    user_columns: tuple[str, ...] | None = None
    item_columns: tuple[str, ...] | None = None
    limits: ReadLimits = field(default_factory=ReadLimits)
    delimiter: str | None = None
    keep_non_product_lines: bool = False

    def weights(self) -> dict[str, float]:
        """Event weights with lower-case event names."""
        weights = C.DEFAULT_EVENT_WEIGHTS if self.event_weights is None else self.event_weights
        return {str(k).strip().lower(): float(v) for k, v in weights.items()}

    def problems(self) -> list[Problem]:
        """Problems with the options themselves."""
        found = []
        if self.leading_zero_ids not in ("error", "merge", "keep"):
            found.append(Problem("import options", None, (), 0,
                                 fill(_("leading_zero_ids is '{value}'"), value=self.leading_zero_ids),
                                 _("Use 'error', 'merge' or 'keep'.")))
        if not 0.0 <= float(self.max_bad_share) <= 1.0:
            found.append(Problem("import options", None, (), 0,
                                 fill(_("max_bad_share is {value}"), value=self.max_bad_share),
                                 _("Use a share between 0 and 1.")))
        negative = {k: v for k, v in self.weights().items() if not v >= 0}
        if negative:
            found.append(Problem("import options", None, (), 0,
                                 fill(_("event weights must be 0 or more, got {value}"), value=negative),
                                 _("Set every event weight to 0 or more.")))
        if self.delimiter is not None and len(self.delimiter) != 1:
            found.append(Problem("import options", None, (), 0,
                                 fill(_("the delimiter must be one character, got {value}"),
                                      value=repr(self.delimiter)),
                                 _("Use ',', ';', '|' or a tab, or leave it empty to detect it.")))
        return found

    def fingerprint_dict(self) -> dict[str, object]:
        """The options that change what an import produces, in a JSON-friendly form."""
        return {
            "event_weights": dict(sorted(self.weights().items())),
            "leading_zero_ids": self.leading_zero_ids,
            "max_bad_share": float(self.max_bad_share),
            "now": None if self.now is None else str(pd.Timestamp(self.now)),
            "pseudonym_key": None if self.pseudonymise_key is None else privacy.key_fingerprint(self.pseudonymise_key),
            "user_columns": None if self.user_columns is None else list(self.user_columns),
            "item_columns": None if self.item_columns is None else list(self.item_columns),
            "delimiter": self.delimiter,
            **({"keep_non_product_lines": True} if self.keep_non_product_lines else {}),
        }


# Canonical columns also matched when a column name *ends with* one of their (long) aliases,
# e.g. "web_customer_id" -> user_id, "purchase_date" -> timestamp.
_SUFFIX_MATCHED = (C.USER_ID, C.ITEM_ID, C.TIMESTAMP, C.ORDER_ID)
_SUFFIX_ENDINGS = ("id", "no", "number", "code", "date", "time", "timestamp", "datetime")


def guess_mapping(columns: Sequence[str], table: C.Table | str) -> dict[str, str]:
    """Guess which of the user's columns hold the canonical ones.

    Names are compared after lower-casing and removing everything but letters and digits, against
    :data:`recsys.core.columns.ALIASES`. Aliases are tried in order (``customerid`` before ``customer``);
    each user column is used at most once.

    Parameters
    ----------
    columns
        The user's column names.
    table
        Which table the file is.

    Returns
    -------
    dict
        canonical name -> the user's column name, for every column that could be guessed.

    Examples
    --------
    >>> guess_mapping(["InvoiceNo", "StockCode", "InvoiceDate", "CustomerID"], "interactions")
    {'user_id': 'CustomerID', 'item_id': 'StockCode', 'timestamp': 'InvoiceDate', 'order_id': 'InvoiceNo'}
    """
    table = C.Table(table)
    columns = [str(c) for c in columns]
    normalised = [normalise_name(c) for c in columns]
    used: set[str] = set()
    mapping: dict[str, str] = {}
    for canonical in C.MAPPABLE_COLUMNS[table]:
        aliases = (normalise_name(canonical), *C.ALIASES.get(canonical, ()))
        choice = next(
            (col for alias in aliases for col, norm in zip(columns, normalised, strict=True)
             if norm == alias and col not in used),
            None,
        )
        if choice is None and canonical in _SUFFIX_MATCHED:
            long_aliases = [a for a in aliases if len(a) >= 4 and a.endswith(_SUFFIX_ENDINGS)]
            choice = next(
                (col for alias in long_aliases for col, norm in zip(columns, normalised, strict=True)
                 if norm.endswith(alias) and col not in used),
                None,
            )
        if choice is not None:
            mapping[canonical] = choice
            used.add(choice)
    return mapping


def resolve_mapping(
    columns: Sequence[str], table: C.Table | str, overrides: Mapping[str, str | None] | None = None,
) -> dict[str, str]:
    """The guessed mapping with the user's overrides applied.

    An override maps a canonical column to one of the user's columns; ``None`` or ``""`` unmaps it.
    A column the user assigns explicitly is removed from any other guessed role.
    """
    mapping = guess_mapping(columns, table)
    for canonical, theirs in (overrides or {}).items():
        if theirs is None or theirs == "":
            mapping.pop(canonical, None)
            continue
        for other in [k for k, v in mapping.items() if v == theirs and k != canonical]:
            if other not in (overrides or {}):
                mapping.pop(other)
        mapping[canonical] = str(theirs)
    return mapping


_TEXT_ROLES = (C.USER_ID, C.ITEM_ID, C.ORDER_ID)


def load_source(
    source: Source, name: str, table: C.Table, overrides: Mapping[str, str | None] | None, options: ImportOptions,
) -> LoadedTable:
    if isinstance(source, pd.DataFrame):
        frame = source.set_axis([str(c) for c in source.columns], axis=1)
        problems = check_duplicate_columns(list(frame.columns), name)
        if problems:
            raise DataError(problems)
        if frame.shape[1] == 0:
            raise file_error(name, _("the table is empty"), _("Provide a table with columns and rows."))
        if frame.shape[1] > options.limits.max_columns:
            raise too_many_columns(name, frame.shape[1], options.limits, where="the table")
        if len(frame) == 0:
            raise file_error(name, _("the table has columns but no rows"), _("Provide a table with rows."))
        if len(frame) > options.limits.max_rows:
            raise file_error(name, f"the table has {len(frame):,} rows, over the limit of {options.limits.max_rows:,}",
                             LIMIT_FIX.format(field="max_rows"))
        problems = long_cell_problems(frame, name, options.limits.max_cell_chars)
        if problems:
            raise DataError(problems)
        return LoadedTable(frame, name, "frame", frame_fingerprint(frame), int(frame.memory_usage(deep=False).sum()))

    def text_columns(header: Sequence[str]) -> set[str]:
        mapping = resolve_mapping(header, table, overrides)
        return {mapping[r] for r in _TEXT_ROLES if r in mapping}

    return load_table(source, name, options.limits, text_columns=text_columns, delimiter=options.delimiter)


__all__ = ["ImportOptions", "guess_mapping", "resolve_mapping", "load_source"]
