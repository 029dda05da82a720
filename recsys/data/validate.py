"""Checks of imported tables against the data contract, and the report of what cleaning did.

Every check returns :class:`Problem` objects instead of raising, so that an import can collect
*every* problem of every file and raise one :class:`DataError` that lists them all. Each problem
names the file, the column, a few example rows, how many rows are affected and what to do.

Row numbers are those a spreadsheet shows: the header is row 1 and the first data row is row 2.

>>> p = Problem("orders.csv", "CustomerID", (5, 9), 2, "2 rows have no customer id", "Fill them in.")
>>> str(p)
"orders.csv, column 'CustomerID': 2 rows have no customer id (rows 5, 9). Fix: Fill them in."
"""

from __future__ import annotations

from recsys.core.errors import PromoLensError
import difflib
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pa_compute

from recsys.core import columns as C
from recsys.core.i18n import N_, fill, ngettext
from recsys.core.i18n import gettext as _

#: How many example rows a problem or cleaning step lists.
MAX_EXAMPLE_ROWS = 5
#: Spreadsheet row number of the first data row (the header is row 1).
FIRST_DATA_ROW = 2

#: What each canonical column is called in messages to a marketer.
LABELS: dict[str, str] = {
    C.USER_ID: N_("customer id"),
    C.ITEM_ID: N_("item id"),
    C.EVENT: N_("event type"),
    C.TIMESTAMP: N_("date/time"),
    C.WEIGHT: N_("weight"),
    C.VALUE: N_("revenue"),
    C.QUANTITY: N_("quantity"),
    C.UNIT_PRICE: N_("unit price"),
    C.ORDER_ID: N_("order id"),
}

#: The tables' names in messages ("the users file"), marked for translation.
TABLE_NAMES = (N_("interactions"), N_("users"), N_("items"))
ROW_NUMBERING = N_("row numbers as a spreadsheet shows them, header = row 1")

#: Characters that are invisible or steer how text is shown: C0/C1 control characters, zero-width
#: characters, soft hyphen, byte-order mark and the bidirectional marks and overrides (U+202E makes
#: "user_1\u202egpj.exe" display as "user_1exe.jpg"). Two ids that differ only by them look the same.
INVISIBLE_CHARACTERS = (
    "[\x00-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]"
)
_INVISIBLE = re.compile(INVISIBLE_CHARACTERS)
#: Longest id accepted (characters). Ids are short codes; 1,000 leaves room for URLs used as ids.
MAX_ID_CHARS = 1_000
#: Longest cell accepted (characters): what an Excel cell can hold.
MAX_CELL_CHARS = 32_767


def label(canonical: str) -> str:
    """The marketer's word for a canonical column (in the current language)."""
    return _(LABELS[canonical]) if canonical in LABELS else canonical


def visible(text: str) -> str:
    r"""``text`` with invisible and control characters written out (``\x1b``, ``\u202e``).

    Messages quote the user's data; written out, such characters can neither hide in a message nor
    reorder it or drive a terminal.

    >>> visible("u1\u202e")
    'u1\\u202e'
    """
    return _INVISIBLE.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100
                          else f"\\u{ord(m.group()):04x}", str(text))


def quoted_examples(values: pd.Series, n: int = 3, width: int = 40) -> str:
    """Up to ``n`` distinct values, shortened to ``width`` characters, quoted and made visible."""
    samples = pd.unique(values.dropna().astype(str))[:n]
    return ", ".join(f"'{visible(s[:width])}{'...' if len(s) > width else ''}'" for s in samples)


# --- problems ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One problem with the input, in words a marketer understands.

    Attributes
    ----------
    file
        The file name as the user knows it (e.g. ``"orders.csv"``).
    column
        The user's column name, or None for a problem with the whole file. When the column is
        mapped to a canonical one, the message says which.
    rows
        Up to :data:`MAX_EXAMPLE_ROWS` example rows, numbered as a spreadsheet shows them
        (header = row 1, first data row = row 2).
    count
        How many rows are affected (0 for file-level problems).
    message
        What is wrong.
    fix
        What to do about it.
    severity
        ``"error"`` blocks the import; ``"warning"`` does not.
    """

    file: str
    column: str | None
    rows: tuple[int, ...]
    count: int
    message: str
    fix: str
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        where = visible(self.file) + (fill(_(", column '{column}'"), column=visible(self.column))
                                      if self.column is not None else "")
        text = fill(_("{where}: {message}"), where=where, message=visible(self.message).rstrip(_(". ")))
        if self.rows:
            more = ", ..." if self.count > len(self.rows) else ""
            rows = ", ".join(str(r) for r in self.rows)
            text += fill(_(" (row {rows})") if len(self.rows) == 1 and not more else _(" (rows {rows})"),
                         rows=rows + more)
        text += _(".")
        if self.fix:
            text += fill(_(" Fix: {fix}"), fix=visible(self.fix))
        return text

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["rows"] = list(self.rows)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Problem:
        return cls(
            file=str(data["file"]),
            column=None if data.get("column") is None else str(data["column"]),
            rows=tuple(int(r) for r in data.get("rows", ()) or ()),  # type: ignore[union-attr]
            count=int(data.get("count", 0)),  # type: ignore[arg-type]
            message=str(data["message"]),
            fix=str(data.get("fix", "")),
            severity="warning" if data.get("severity") == "warning" else "error",
        )


class DataError(PromoLensError, ValueError):
    """Bad input: carries *every* blocking problem found, never just the first.

    Attributes
    ----------
    problems
        The blocking problems (severity ``"error"``).
    warnings
        Non-blocking problems found on the way (shown after the errors).
    """

    def __init__(self, problems: Sequence[Problem], warnings: Sequence[Problem] = ()) -> None:
        self.problems: list[Problem] = list(problems)
        self.warnings: list[Problem] = list(warnings)
        super().__init__(self.__str__())

    def __reduce__(self):  # keep the problems when pickled (e.g. across processes)
        return (type(self), (self.problems, self.warnings))

    def __str__(self) -> str:
        n = len(self.problems)
        lines = [fill(ngettext("The data could not be imported: {n} problem found ({numbering}). Nothing was changed.",
                               "The data could not be imported: {n} problems found ({numbering}). Nothing was changed.",
                               n), n=n, numbering=_(ROW_NUMBERING))]
        lines += [f"  {i}. {p}" for i, p in enumerate(self.problems, start=1)]
        if self.warnings:
            lines.append(_("Also note:"))
            lines += [f"  - {w}" for w in self.warnings]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, object]:
        return {
            "problems": [p.to_dict() for p in self.problems],
            "warnings": [w.to_dict() for w in self.warnings],
        }


def raise_if_errors(problems: Sequence[Problem]) -> list[Problem]:
    """Raise :class:`DataError` when any problem is an error; return the warnings otherwise."""
    errors = [p for p in problems if p.severity == "error"]
    warnings = [p for p in problems if p.severity == "warning"]
    if errors:
        raise DataError(errors, warnings)
    return warnings


# --- cleaning report --------------------------------------------------------------------------


@dataclass
class CleaningStep:
    """One cleaning step and how many raw rows it concerned.

    ``action`` says what happened to those rows: ``"dropped"``, ``"fixed"`` (changed in place) or
    ``"kept"`` (reported only). Counts are taken on the raw input, so a row that is both a
    cancellation and a return counts in both steps.
    """

    table: str
    name: str
    count: int
    description: str
    example_rows: tuple[int, ...] = ()
    action: str = "dropped"

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["example_rows"] = list(self.example_rows)
        return data


@dataclass
class CleaningReport:
    """What cleaning did to each table: the steps, and rows in and out per table."""

    steps: list[CleaningStep] = field(default_factory=list)
    rows_in: dict[str, int] = field(default_factory=dict)
    rows_out: dict[str, int] = field(default_factory=dict)

    def add(
        self, table: str, name: str, count: int, description: str,
        example_rows: tuple[int, ...] = (), action: str = "dropped",
    ) -> None:
        self.steps.append(CleaningStep(table, name, int(count), description, tuple(example_rows), action))

    def count(self, name: str, table: str | None = None) -> int:
        """The count of the step called ``name`` (0 when it did not run)."""
        return sum(s.count for s in self.steps if s.name == name and (table is None or s.table == table))

    def to_dict(self) -> dict[str, object]:
        return {
            "steps": [s.to_dict() for s in self.steps],
            "rows_in": dict(self.rows_in),
            "rows_out": dict(self.rows_out),
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> CleaningReport:
        steps = [
            CleaningStep(
                table=str(s["table"]), name=str(s["name"]), count=int(s["count"]),
                description=str(s["description"]),
                example_rows=tuple(int(r) for r in s.get("example_rows", ())),
                action=str(s.get("action", "dropped")),
            )
            for s in data.get("steps", [])  # type: ignore[union-attr]
        ]
        return cls(
            steps=steps,
            rows_in={str(k): int(v) for k, v in dict(data.get("rows_in", {})).items()},  # type: ignore[arg-type]
            rows_out={str(k): int(v) for k, v in dict(data.get("rows_out", {})).items()},  # type: ignore[arg-type]
        )

    def to_frame(self) -> pd.DataFrame:
        """One row per step, with the field names as columns.

        Columns: ``table``, ``name``, ``count`` (int64), ``action``, ``description`` and
        ``example_rows`` (text such as "5, 9, 13").
        """
        return pd.DataFrame({
            "table": pd.Series([s.table for s in self.steps], dtype="str"),
            "name": pd.Series([s.name for s in self.steps], dtype="str"),
            "count": pd.Series([s.count for s in self.steps], dtype="int64"),
            "action": pd.Series([s.action for s in self.steps], dtype="str"),
            "description": pd.Series([s.description for s in self.steps], dtype="str"),
            "example_rows": pd.Series([", ".join(map(str, s.example_rows)) for s in self.steps], dtype="str"),
        })


# --- row helpers ------------------------------------------------------------------------------


def example_rows(mask: np.ndarray | pd.Series, limit: int = MAX_EXAMPLE_ROWS) -> tuple[int, ...]:
    """Spreadsheet row numbers (header = row 1) of the first ``limit`` True positions of ``mask``."""
    positions = np.flatnonzero(np.asarray(mask, dtype=bool))[:limit]
    return tuple(int(p) + FIRST_DATA_ROW for p in positions)


def _rows_text(n: int) -> str:
    return fill(ngettext("{n} row", "{n} rows", n), n=f"{n:,}")


def _column_text(column: str, canonical: str | None) -> str:
    if canonical is None or canonical == column:
        return f"'{column}'"
    if label(canonical) == canonical:
        return fill(_("'{column}' (used as {canonical})"), column=column, canonical=canonical)
    return fill(_("'{column}' (used as {label}, {canonical})"), column=column, label=label(canonical),
                canonical=canonical)


def _verbs(count: int) -> dict[str, str]:
    """Placeholders that agree with a count: {are}, {have}, {hold}, {appear}."""
    one = count == 1
    return {"are": "is" if one else "are", "have": "has" if one else "have",
            "hold": "holds" if one else "hold", "appear": "appears" if one else "appear"}


def mask_problem(
    mask: np.ndarray | pd.Series, *, file: str, column: str | None, message: str, fix: str,
    severity: Literal["error", "warning"] = "error",
) -> Problem | None:
    """A problem for the rows where ``mask`` is True, or None when there are none.

    ``message`` may contain ``{rows}`` (e.g. "12 rows"), ``{count}`` and verbs that agree with
    the count: ``{are}``, ``{have}``, ``{hold}``, ``{appear}``.
    """
    mask = np.asarray(mask, dtype=bool)
    count = int(mask.sum())
    if count == 0:
        return None
    text = message  # placeholders are replaced one by one: user data may contain braces
    for key, word in {"rows": _rows_text(count), "count": f"{count:,}", **_verbs(count)}.items():
        text = text.replace("{" + key + "}", word)
    return Problem(file, column, example_rows(mask), count, text, fix, severity)


# --- file-level checks ------------------------------------------------------------------------


def check_duplicate_columns(names: Sequence[str], file: str) -> list[Problem]:
    """A problem for every column name that occurs more than once."""
    seen: dict[str, int] = {}
    for n in names:
        seen[n] = seen.get(n, 0) + 1
    return [
        Problem(file, name, (1,), 0,
                fill(_("the column name '{name}' occurs {times} times in the header"), name=name, times=times),
                _("Give every column a different name (rename or delete the extra ones) and import again."))
        for name, times in seen.items() if times > 1
    ]


def normalise_name(name: str) -> str:
    """A column name reduced for alias matching: lower case, letters and digits only."""
    return "".join(ch for ch in str(name).lower() if ch.isalnum())


def closest_columns(canonical: str, available: Sequence[str], n: int = 2) -> list[str]:
    """The user's columns whose names are closest to the canonical column or its aliases."""
    targets = [normalise_name(canonical), *C.ALIASES.get(canonical, ())]
    by_norm: dict[str, str] = {}
    for col in available:
        by_norm.setdefault(normalise_name(col), col)
    scores: dict[str, float] = {}
    for norm, col in by_norm.items():
        if not norm:
            continue
        best = max(difflib.SequenceMatcher(None, norm, t).ratio() for t in targets)
        if best >= 0.6:
            scores[col] = best
    return sorted(scores, key=lambda c: -scores[c])[:n]


def _header_looks_like_data(available: Sequence[str]) -> bool:
    names = [str(c).strip() for c in available]
    numeric = sum(1 for c in names if c.replace(".", "", 1).replace("-", "", 1).isdigit())
    return bool(names) and numeric >= max(1, len(names) // 2)


def missing_column_problem(
    canonical: str, available: Sequence[str], file: str, table: str,
) -> Problem:
    """The problem "this file has no <canonical> column", with the closest candidates."""
    shown = ", ".join(f"'{c}'" for c in list(available)[:20]) + (", ..." if len(available) > 20 else "")
    message = fill(_("the {table} file has no {label} column ({canonical}); its columns are {shown}"),
                   table=_(table), label=label(canonical), canonical=canonical, shown=shown or _("none"))
    close = closest_columns(canonical, available)
    if close:
        choices = _(" or ").join(f"'{c}'" for c in close)
        fix = fill(_("If {choices} holds the {label}, choose it for {canonical} in the column mapping; "
                     "otherwise add a column named {canonical}."),
                   choices=choices, label=label(canonical), canonical=canonical)
    else:
        fix = fill(_("Choose the column that holds the {label} for {canonical} in the column mapping, "
                     "or add a column named {canonical}."), label=label(canonical), canonical=canonical)
    if _header_looks_like_data(available):
        fix += _(" The first row looks like data, not column names: add a header row.")
    return Problem(file, None, (), 0, message, fix)


def check_mapping(
    mapping: dict[str, str], available: Sequence[str], table: C.Table, file: str,
) -> list[Problem]:
    """Problems with a column mapping: unknown or absent columns, one column used twice, no key."""
    problems: list[Problem] = []
    allowed = C.MAPPABLE_COLUMNS[table]
    present = set(available)
    for canonical, theirs in mapping.items():
        if canonical not in allowed:
            problems.append(Problem(
                file, theirs, (), 0,
                fill(_("'{canonical}' is not a column PromoLens can map in the {table} file"),
                     canonical=canonical, table=_(table.value)),
                fill(_("Map only these: {allowed}."), allowed=", ".join(allowed)),
            ))
        elif theirs not in present:
            shown = ", ".join(f"'{c}'" for c in list(available)[:20])
            problems.append(Problem(
                file, theirs, (), 0,
                fill(_("the mapping uses column '{theirs}' for {label} ({canonical}), but the file has no such "
                       "column; its columns are {shown}"),
                     theirs=theirs, label=label(canonical), canonical=canonical, shown=shown),
                fill(_("Pick one of the file's columns for {canonical}, or leave it unmapped."), canonical=canonical),
            ))
    used: dict[str, list[str]] = {}
    for canonical, theirs in mapping.items():
        used.setdefault(theirs, []).append(canonical)
    for theirs, canon in used.items():
        if len(canon) > 1:
            problems.append(Problem(
                file, theirs, (), 0,
                fill(_("column '{theirs}' is mapped to several columns at once ({canonical})"),
                     theirs=theirs, canonical=", ".join(canon)),
                _("Map each column to one meaning only."),
            ))
    for key in C.TABLE_KEYS[table]:
        if key not in mapping:
            problems.append(missing_column_problem(key, available, file, table.value))
    return problems


# --- value checks -----------------------------------------------------------------------------

_CURRENCY = r"^\s*(?:[$€£¥]|USD|EUR|GBP|RMB|CNY)\s*|\s*(?:[$€£¥元]|USD|EUR|GBP|RMB|CNY)\s*$"
_THOUSANDS_DOT_DECIMAL = r"[-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?"
_DECIMAL_COMMA = r"[-+]?\d+,\d+|[-+]?\d{1,3}(?:\.\d{3})+,\d+"


def to_number(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Convert a column to float64; return it and a mask of values that are not numbers.

    Blank text counts as missing, not as a bad value. Text such as ``"£1,234.50"`` or ``"12,5"``
    (decimal comma) is understood, and so are full-width digits and punctuation and yuan amounts
    (``"￥１，２３４．５０"``, ``"128元"``).
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype(values.cat.categories.dtype)
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
        numbers, bad = values.astype("float64"), np.zeros(len(values), dtype=bool)
    else:
        numbers = pd.to_numeric(values, errors="coerce").astype("float64")
        bad = numbers.isna().to_numpy() & values.notna().to_numpy()
    if bad.any():
        text = values[bad].astype(str).str.normalize("NFKC").str.strip()  # full-width １２３，４５ -> 123,45
        blank = (text == "").to_numpy()
        cleaned = text.str.replace(_CURRENCY, "", regex=True).str.replace(" ", "", regex=False)
        thousands = cleaned.str.fullmatch(_THOUSANDS_DOT_DECIMAL)
        decimal_comma = cleaned.str.fullmatch(_DECIMAL_COMMA) & ~thousands
        cleaned = cleaned.where(~thousands, cleaned.str.replace(",", "", regex=False))
        cleaned = cleaned.where(
            ~decimal_comma, cleaned.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
        )
        recovered = pd.to_numeric(cleaned, errors="coerce").astype("float64")
        numbers = numbers.copy()
        numbers.iloc[np.flatnonzero(bad)] = recovered.to_numpy()
        still_bad = recovered.isna().to_numpy() & ~blank
        bad[np.flatnonzero(bad)] = still_bad
    infinite = np.isinf(numbers.to_numpy())  # "inf", "1e999": not an amount anyone paid
    if infinite.any():
        numbers = numbers.mask(infinite)
        bad = bad | infinite
    return numbers, bad


def non_number_problem(
    values: pd.Series, bad: np.ndarray, *, file: str, column: str, canonical: str,
) -> Problem | None:
    """The problem "this numeric column holds text", with examples of the offending values."""
    if not bad.any():
        return None
    samples = pd.unique(values[bad].astype(str).str.slice(0, 30))[:3]
    shown = ", ".join(f"'{s}'" for s in samples)
    return mask_problem(
        bad, file=file, column=column,
        message=fill(_("{rows} of column {column} {hold} text where a number is expected (e.g. {examples})"),
                     column=_column_text(column, canonical), examples=shown),
        fix=_("Put only numbers in this column (use an empty cell for unknown values), or map a "
              "different column to it."),
    )


def negative_problem(
    numbers: pd.Series, *, file: str, column: str, canonical: str,
) -> Problem | None:
    """A blocking problem for negative values in a column that must not have them (weights)."""
    return mask_problem(
        (numbers < 0).to_numpy(), file=file, column=column,
        message=fill(_("{rows} of column {column} {are} negative"), column=_column_text(column, canonical)),
        fix=_("Weights say how strongly an interaction counts and must be 0 or more: correct or "
              "delete these rows, or leave the weight column unmapped to use event weights."),
    )


def leading_zero_clashes(ids: pd.Series) -> pd.DataFrame:
    """Distinct ids that become equal once leading zeros are removed ("007" and "7").

    Returns
    -------
    pd.DataFrame
        Columns ``id`` and ``key`` (the id without leading zeros), one row per clashing id.
    """
    if not ids.str.startswith("0").any():  # cheap exit: no id has a leading zero
        empty = pd.Series([], dtype="str")
        return pd.DataFrame({"id": empty, "key": empty})
    distinct = pd.Series(pd.unique(ids.dropna()), dtype="str")
    if distinct.empty:
        return pd.DataFrame({"id": distinct, "key": distinct})
    key = strip_leading_zeros(distinct)
    counts = key.map(key.value_counts())
    clash = (counts > 1).to_numpy()
    return pd.DataFrame({"id": distinct[clash], "key": key[clash]}).sort_values("key", kind="stable")


def strip_leading_zeros(ids: pd.Series) -> pd.Series:
    """Remove leading zeros from ids ("007" -> "7"; "000" -> "0")."""
    stripped = ids.str.lstrip("0")
    return stripped.where((stripped != "") | ids.isna(), "0")


def leading_zero_problem(
    ids: pd.Series, *, file: str, column: str, canonical: str,
) -> Problem | None:
    """A blocking problem when ids differ only by leading zeros; the fix names the option."""
    clashes = leading_zero_clashes(ids)
    if clashes.empty:
        return None
    mask = ids.isin(clashes["id"]).to_numpy()
    n_groups = int(clashes["key"].nunique())
    first = clashes[clashes["key"].isin(pd.unique(clashes["key"])[:3])]
    joiner = _(" and ")
    shown = "; ".join(
        joiner.join(f"'{v}'" for v in group["id"].iloc[:3])
        for _key, group in first.groupby("key", sort=False)  # at most 3 groups
    )
    return mask_problem(
        mask, file=file, column=column,
        message=fill(ngettext("{n} {label} in column {column} appears both with and without leading zeros "
                              "(e.g. {examples}), in {rows}",
                              "{n} {label}s in column {column} appear both with and without leading zeros "
                              "(e.g. {examples}), in {rows}", n_groups),
                     n=f"{n_groups:,}", label=label(canonical), column=_column_text(column, canonical),
                     examples=shown),
        fix=_("Tell PromoLens whether these are the same: set leading_zero_ids='merge' (the Data page: "
              "'ids with leading zeros are the same id') to treat '007' and '7' as one, or "
              "leading_zero_ids='keep' to keep them apart. Or correct the ids in the file."),
    )


def duplicate_key_problem(
    ids: pd.Series, *, file: str, column: str, canonical: str, table: str,
) -> Problem | None:
    """A blocking problem when a users/items file lists the same id on several rows."""
    dup = ids.notna() & ids.duplicated(keep=False)
    n_ids = int(ids[dup].nunique())
    samples = ", ".join(f"'{v}'" for v in pd.unique(ids[dup])[:3])
    return mask_problem(
        dup.to_numpy(), file=file, column=column,
        message=fill(ngettext("{n} {label} (e.g. {examples}) appears on more than one row of the {table} file: "
                              "{rows} in all",
                              "{n} {label}s (e.g. {examples}) appear on more than one row of the {table} file: "
                              "{rows} in all", n_ids),
                     n=f"{n_ids:,}", label=label(canonical), examples=samples, table=_(table)),
        fix=fill(_("Keep one row per {label} in the {table} file (merge or delete the extra rows)."),
                 label=label(canonical), table=_(table)),
    )


def empty_id_problem(*, file: str, column: str, canonical: str, rows: int) -> Problem:
    """The column mapped to an id holds no ids at all."""
    return Problem(
        file, column, (), rows,
        fill(_("column {column} is empty: none of the {n} rows has a {label}"),
             column=_column_text(column, canonical), n=f"{rows:,}", label=label(canonical)),
        fill(_("Map the column that holds the {label} to {canonical}, or fill it in."),
             label=label(canonical), canonical=canonical),
    )


def bad_share_problem(
    mask: np.ndarray, *, file: str, column: str, canonical: str, what: str, max_share: float,
    fix: str,
) -> Problem | None:
    """A blocking problem when more than ``max_share`` of the rows are bad (else None)."""
    n = len(mask)
    count = int(np.count_nonzero(mask))
    if n == 0 or count == 0 or count / n <= max_share:
        return None
    return mask_problem(
        mask, file=file, column=column,
        message=fill(_("{rows} ({share} of the file) of column {column} {what}; at most {max_share} can be "
                       "dropped automatically"),
                     share=f"{count / n:.1%}", column=_column_text(column, canonical), what=what,
                     max_share=f"{max_share:.1%}"),
        fix=fix,
    )


def text_lengths(values: pd.Series) -> pd.Series | None:
    """Characters per cell of a text column (NaN where missing or not text), or None for other columns."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype(values.cat.categories.dtype)
    if not (pd.api.types.is_string_dtype(values) or pd.api.types.is_object_dtype(values)):
        return None
    try:
        return values.str.len()
    except AttributeError:  # an object column without any text
        return None


def long_cell_problems(frame: pd.DataFrame, file: str, max_chars: int = MAX_CELL_CHARS) -> list[Problem]:
    """A problem for every column with cells longer than ``max_chars`` characters.

    Such cells are a broken quote that swallowed the rows after it, or a document pasted into a
    cell; either way they are not data a recommender can use, and they make every screen slow.
    """
    found = []
    for i, column in enumerate(frame.columns):  # a loop over columns
        lengths = text_lengths(frame.iloc[:, i])
        if lengths is None:
            continue
        too_long = (lengths > max_chars).to_numpy(dtype=bool, na_value=False)
        if not too_long.any():
            continue
        longest = int(lengths.max())
        found.append(mask_problem(
            too_long, file=file, column=str(column),
            message=fill(_("{rows} of column '{column}' {hold} text longer than {max_chars} characters "
                           "(the longest has {longest}), more than a spreadsheet cell can hold"),
                         column=column, max_chars=f"{max_chars:,}", longest=f"{longest:,}"),
            fix=_("Cells this long are usually a quote (\") that was never closed and swallowed the rows after "
                  "it, or a whole document pasted into a cell: correct or shorten these cells, or delete the "
                  "column, and import again."),
        ))
    return [p for p in found if p is not None]


def _all_printable_ascii(values: pd.Series) -> bool:
    """True when every value is printable ASCII (no control, invisible or direction characters)."""
    try:
        array = (pa.array(values.array) if isinstance(values.array, pd.arrays.ArrowStringArray)
                 else pa.array(values.to_numpy(dtype=object), type=pa.string(), from_pandas=True))
    except (pa.ArrowException, TypeError):
        return False
    return pa_compute.all(pa_compute.ascii_is_printable(array)).as_py() is not False


def invisible_id_problem(
    ids: pd.Series, *, file: str, column: str, canonical: str,
) -> Problem | None:
    """A blocking problem for ids holding control characters or invisible / direction marks.

    They are refused, not removed: "u1" and "u1" + U+200F look the same but would be two customers,
    and which of them the user meant is for the user to say.
    """
    if not (pd.api.types.is_string_dtype(ids) or pd.api.types.is_object_dtype(ids)):
        return None
    if _all_printable_ascii(ids):  # the usual case, 15 times faster than the regex
        return None
    mask = ids.str.contains(INVISIBLE_CHARACTERS, regex=True).to_numpy(dtype=bool, na_value=False)
    if not mask.any():
        return None
    return mask_problem(
        mask, file=file, column=column,
        message=fill(_("{rows} of column {column} {hold} control characters or invisible marks (e.g. {examples}): "
                       "such ids look like other ids but are not, and right-to-left marks make an id display as "
                       "a different one"),
                     column=_column_text(column, canonical), examples=quoted_examples(ids[mask])),
        fix=_("Remove these characters from the ids (in Excel, =CLEAN() removes control characters; retype "
              "ids with direction marks) and import again. PromoLens does not remove them itself, so that "
              "no two ids are merged without you knowing."),
    )


def confusable_id_problem(
    ids: pd.Series, *, file: str, column: str, canonical: str,
) -> Problem | None:
    """A warning for ids that differ only by Unicode normalisation and so look identical.

    "Café" typed with a composed é and with e + a combining accent (NFC/NFD), full-width "ＵＳ１"
    and "US1", the Kelvin sign "K" and "K": different ids to a computer, the same to a reader. They
    are kept apart (merging is for the user to decide) and named, with code points written out.
    """
    if not (pd.api.types.is_string_dtype(ids) or pd.api.types.is_object_dtype(ids)) or _all_printable_ascii(ids):
        return None
    distinct = pd.Series(pd.unique(ids.dropna().astype(str)))
    normal = distinct.str.normalize("NFKC")
    clash = normal.duplicated(keep=False) & ~distinct.duplicated(keep=False)
    if not clash.any():
        return None
    groups = distinct[clash].groupby(normal[clash].to_numpy(), sort=False).agg(list)
    examples = "; ".join(
        " and ".join(f"'{v.encode('ascii', 'backslashreplace').decode()}'" for v in group[:2]) for group in groups[:3]
    )
    mask = ids.isin(distinct[clash]).to_numpy(dtype=bool)
    return mask_problem(
        mask, file=file, column=column, severity="warning",
        message=(f"{{rows}} of column {_column_text(column, canonical)} {{hold}} ids that look the same as other ids "
                 f"but differ in their Unicode characters ({len(groups):,} such group{'s' if len(groups) != 1 else ''}, "
                 f"e.g. {examples}); they are kept as different {label(canonical)}s"),
        fix=("If they are the same, retype them the same way (or save the file with one Unicode normalisation, NFC) and "
             "import again; if they are different, nothing to do."),
    )


def long_id_problem(
    ids: pd.Series, *, file: str, column: str, canonical: str, max_chars: int = MAX_ID_CHARS,
) -> Problem | None:
    """A blocking problem for ids longer than ``max_chars`` characters (text in the id column)."""
    lengths = text_lengths(ids)
    if lengths is None:
        return None
    mask = (lengths > max_chars).to_numpy(dtype=bool, na_value=False)
    if not mask.any():
        return None
    return mask_problem(
        mask, file=file, column=column,
        message=fill(_("{rows} of column {column} {hold} ids longer than {max_chars} characters "
                       "(the longest has {longest})"),
                     column=_column_text(column, canonical), max_chars=f"{max_chars:,}",
                     longest=f"{int(lengths.max()):,}"),
        fix=_("An id is a short code: map the column that holds the ids, or correct these rows (a quote that "
              "was never closed can pull the rows after it into one cell)."),
    )


__all__ = [
    "confusable_id_problem", "Problem", "DataError", "CleaningStep", "CleaningReport", "raise_if_errors", "example_rows",
    "mask_problem", "check_duplicate_columns", "check_mapping", "missing_column_problem",
    "closest_columns", "normalise_name", "to_number", "non_number_problem", "negative_problem",
    "leading_zero_clashes", "leading_zero_problem", "strip_leading_zeros", "duplicate_key_problem",
    "empty_id_problem", "bad_share_problem", "label", "LABELS", "MAX_EXAMPLE_ROWS",
    "INVISIBLE_CHARACTERS", "MAX_ID_CHARS", "MAX_CELL_CHARS", "visible", "quoted_examples", "text_lengths",
    "long_cell_problems", "invisible_id_problem", "long_id_problem",
]
