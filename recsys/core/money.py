"""Money as a marketer reads it: thousands separators, fixed decimals and a currency.

The currency is a symbol written before the amount ("£1,234.50") or a code after it
("1,234.50 CHF"); none gives the bare amount. Its default is ``$PROMOLENS_CURRENCY`` (the Data page
and ``--currency`` override it).

>>> format_money(1234.5, "£"), format_money(-20, "CHF", decimals=0), format_money(3.14159, "")
('£1,234.50', '-20 CHF', '3.14')
>>> format_money(None, "$")
'n/a'
"""

from __future__ import annotations

import os

#: Environment variable with the default currency (e.g. "£", "EUR").
CURRENCY_ENV = "PROMOLENS_CURRENCY"


def default_currency() -> str:
    """``$PROMOLENS_CURRENCY`` without surrounding spaces ("" when unset)."""
    return os.environ.get(CURRENCY_ENV, "").strip()


def format_money(amount: float | None, currency: str | None = None, decimals: int = 2) -> str:
    """``amount`` with thousands separators, ``decimals`` decimals and ``currency`` (None: the default)."""
    if amount is None:
        return "n/a"
    unit = default_currency() if currency is None else currency.strip()
    sign, body = ("-" if amount < 0 else ""), f"{abs(float(amount)):,.{decimals}f}"
    if not unit:
        return sign + body
    return f"{sign}{unit}{body}" if len(unit) == 1 else f"{sign}{body} {unit}"


__all__ = ["CURRENCY_ENV", "default_currency", "format_money"]
