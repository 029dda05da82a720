"""Parse the values of id and date columns: ids as clean text, dates as naive UTC.

Vectorised over whole columns: text dates go through Arrow's strptime in the format that fits a
sample best, and only the distinct values that fail are parsed again in other formats.
"""

from __future__ import annotations

import warnings as _warnings

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pa_compute
from pandas.tseries.api import guess_datetime_format

from recsys.data.validate import strip_leading_zeros


def normalise_ids(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Ids as clean text: integral numbers without ``.0``, whitespace stripped, blanks missing.

    Returns
    -------
    ids, stripped
        The ids (``str`` dtype, NaN when missing) and a mask of the values that had surrounding
        whitespace.

    Examples
    --------
    >>> ids, stripped = normalise_ids(pd.Series([17850.0, None, 13047.0]))
    >>> ids.tolist()
    ['17850', nan, '13047']
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype(values.cat.categories.dtype)
    if pd.api.types.is_float_dtype(values):
        numbers = values.to_numpy(dtype="float64", na_value=np.nan)
        finite = np.isfinite(numbers)
        integral = finite & (np.floor(numbers) == numbers) & (np.abs(numbers) < 2**53)
        if integral.sum() == finite.sum():
            values = pd.Series(numbers, index=values.index).astype("Int64")
    if pd.api.types.is_datetime64_any_dtype(values):
        values = values.dt.strftime("%Y-%m-%d %H:%M:%S").where(values.notna())
    text = values.astype("str")
    trimmed = text.str.strip()
    had_space = ((trimmed != text) & text.notna()).to_numpy(dtype=bool, na_value=False)
    if had_space.any():
        text = trimmed
    blank = (text == "").to_numpy(dtype=bool, na_value=False)
    if blank.any():
        text = text.where(~blank)
    if text.str.endswith(".0").any():
        integral_text = text.str.fullmatch(r"-?\d+\.0+").to_numpy(dtype=bool, na_value=False)
        text = text.where(~integral_text, text.str.replace(r"\.0+$", "", regex=True))
    return text, had_space


def merge_leading_zeros(ids: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Ids with leading zeros removed ("007" -> "7") and a mask of the ids that changed."""
    starts = ids.str.startswith("0").to_numpy(dtype=bool, na_value=False)
    if not starts.any():
        return ids, starts
    stripped = strip_leading_zeros(ids)
    changed = ((stripped != ids) & ids.notna()).to_numpy(dtype=bool, na_value=False)
    return stripped, changed



def naive_utc(values: pd.Series) -> pd.Series:
    """Time-zone-aware datetimes converted to UTC and made naive; others unchanged."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC").dt.tz_localize(None)
    return values


def _strptime_with_guessed_format(text: pd.Series, sample_size: int = 500) -> pd.Series | None:
    """Parse text dates with Arrow's C++ strptime, in the format that fits a sample best.

    Candidate formats are guessed (month-first and day-first) from a few values; the one that
    parses most of an evenly spread sample wins. None when no candidate parses anything (the
    caller then falls back to pandas).
    """
    values = text.dropna()
    values = values[values != ""]
    if values.empty:
        return None
    sample = values.iloc[:: max(1, len(values) // sample_size)].iloc[:sample_size]
    formats: list[str] = []
    for value in pd.unique(sample)[:10]:  # a few values, two guesses each
        for dayfirst in (False, True):
            guessed = guess_datetime_format(str(value), dayfirst=dayfirst)
            if guessed and "%f" not in guessed and guessed not in formats:
                formats.append(guessed)
    sample_array = pa.array(sample.to_numpy(dtype=object), type=pa.string())
    best, best_parsed = None, 0
    for fmt in formats:  # a loop over candidate formats
        try:
            failed = pa_compute.strptime(sample_array, format=fmt, unit="s", error_is_null=True).null_count
            parsed = len(sample) - failed
        except (pa.ArrowException, ValueError):
            continue
        if parsed > best_parsed:
            best, best_parsed = fmt, parsed
    if best is None:
        return None
    column = pa.array(text.to_numpy(dtype=object), type=pa.string()) if not isinstance(
        text.array, pd.arrays.ArrowStringArray) else pa.array(text.array)
    result = pa_compute.strptime(column, format=best, unit="s", error_is_null=True)
    return naive_utc(pd.Series(result.to_pandas(), index=text.index))


def parse_timestamps(values: pd.Series) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """Parse a date/time column to naive UTC datetimes (not yet nanoseconds).

    Text is parsed with the format pandas infers; if that leaves values unparsed, day-first and
    then mixed formats are tried on the distinct failing values only. Numbers are Unix epochs (unit
    guessed from their size). Dates before 1900 count as unparseable.

    Returns
    -------
    parsed, missing, bad
        The datetimes (NaT where missing or bad) and masks of missing and unparseable values.
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype(values.cat.categories.dtype)
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = values
        missing = values.isna().to_numpy()
    elif pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        numbers = values.astype("float64")
        missing = numbers.isna().to_numpy()
        magnitude = float(np.nanmedian(np.abs(numbers))) if (~missing).any() else 0.0
        unit = "ns" if magnitude > 1e17 else "us" if magnitude > 1e14 else "ms" if magnitude > 1e11 else "s"
        parsed = pd.to_datetime(numbers, unit=unit, errors="coerce")
    else:
        text = values.astype("str").str.strip()
        missing = (text.isna() | (text == "")).to_numpy(dtype=bool, na_value=True)
        with _warnings.catch_warnings():
            _warnings.simplefilter("ignore")  # "could not infer format" and friends
            parsed = _strptime_with_guessed_format(text)
            if parsed is None:
                parsed = naive_utc(pd.to_datetime(text, errors="coerce", utc=True))
                if (parsed.isna().to_numpy() & ~missing).any():
                    dayfirst = naive_utc(pd.to_datetime(text, errors="coerce", utc=True, dayfirst=True))
                    if int(dayfirst.isna().sum()) < int(parsed.isna().sum()):
                        parsed = dayfirst
            failed = parsed.isna().to_numpy() & ~missing
            if failed.any():  # several formats in one column: parse each distinct failing value
                distinct = pd.unique(text[failed])
                if len(distinct) <= 200_000:
                    mixed = naive_utc(pd.to_datetime(pd.Series(distinct, dtype="str"), errors="coerce", utc=True,
                                                     format="mixed"))
                    lookup = pd.Series(mixed.to_numpy(), index=pd.Index(distinct))
                    fills = lookup.reindex(text[failed].to_numpy()).to_numpy().astype(parsed.dtype)
                    parsed = parsed.copy()
                    parsed.iloc[np.flatnonzero(failed)] = fills
    parsed = naive_utc(parsed)
    parsed = pd.Series(parsed, index=values.index) if not isinstance(parsed, pd.Series) else parsed
    too_old = (parsed < pd.Timestamp("1900-01-01")).to_numpy(dtype=bool, na_value=False)
    if too_old.any():
        parsed = parsed.where(~too_old)
    bad = parsed.isna().to_numpy() & ~missing
    return parsed, missing, bad


__all__ = ["normalise_ids", "merge_leading_zeros", "naive_utc", "parse_timestamps"]
