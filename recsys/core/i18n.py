"""Languages: gettext catalogues (Babel) and locale-aware formatting, without Streamlit.

PromoLens speaks English (the source language, ``"en"``) and Simplified Chinese (``"zh_CN"``).
Messages are marked with :func:`_` (``_("the file is empty")``; placeholders are filled *after*
translation: ``_("{n} rows").format(n=3)``), extracted with Babel (``make messages``) into
``recsys/locale/promolens.pot`` and translated in ``recsys/locale/<lang>/LC_MESSAGES/promolens.po``.

The ``.po`` file is the only catalogue in git: the first time a language is used it is compiled to
``.mo`` bytes in memory by Babel and loaded as a standard :class:`gettext.GNUTranslations`. So no
binary is committed, a stale ``.mo`` cannot exist, and a read-only install works
(``pyproject.toml`` ships the ``.po`` files as package data).

The current language lives in a :class:`contextvars.ContextVar`: each thread (a Streamlit session's
script run, a CLI call) sets its own with :func:`set_language` or :func:`use_language`; the default
is English.

>>> with use_language("zh_CN"):
...     _("the table is empty")
'表格是空的'
>>> _("the table is empty")
'the table is empty'
>>> negotiate("zh-CN,zh;q=0.9,en;q=0.8"), negotiate("de-DE"), negotiate("zh_TW.UTF-8")
('zh_CN', 'en', 'zh_CN')
>>> with use_language("zh_CN"):
...     format_percent(0.125), format_currency(1234.5, "CNY"), format_number(1234567)
('12.5%', '¥1,234.50', '1,234,567')
"""

from __future__ import annotations

import contextlib
import gettext as _gettext
import io
import re
from collections.abc import Iterator
from contextvars import ContextVar, Token
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path

from babel import Locale, UnknownLocaleError, dates, numbers
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from recsys.core.errors import PromoLensError

#: The gettext domain of PromoLens' catalogues.
DOMAIN = "promolens"
#: Where the catalogues live: ``<lang>/LC_MESSAGES/promolens.po``.
LOCALE_DIR = Path(__file__).resolve().parents[1] / "locale"
#: The source language (messages are written in it).
SOURCE_LANGUAGE = "en"
#: The languages PromoLens speaks, with their own names (for a language picker).
LANGUAGES: dict[str, str] = {"en": "English", "zh_CN": "简体中文"}
#: The environment variable that picks the CLI's language.
LANG_ENV = "PROMOLENS_LANG"

_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_language: ContextVar[str] = ContextVar("promolens_language", default=SOURCE_LANGUAGE)


class LanguageError(PromoLensError, ValueError):
    """A language PromoLens does not speak."""


def negotiate(preferred: str | None, default: str = SOURCE_LANGUAGE) -> str:
    """The supported language closest to a browser's or system's locale string.

    Accepts an Accept-Language header (``"zh-CN,zh;q=0.9,en;q=0.8"``), a browser locale
    (``"zh-CN"``), a POSIX locale (``"zh_CN.UTF-8"``) or a language code; any Chinese becomes
    Simplified Chinese (the only Chinese catalogue); anything unknown gives ``default``.
    """
    if not preferred:
        return default
    for part in str(preferred).split(","):
        tag = part.split(";")[0].strip().split(".")[0].split("@")[0]
        if not tag or tag in ("C", "POSIX", "*"):
            continue
        try:
            locale = Locale.parse(tag.replace("-", "_"))
        except (UnknownLocaleError, ValueError, TypeError):
            continue
        if locale.language == "zh":
            return "zh_CN"
        if locale.language == "en":
            return "en"
    return default


def check_language(language: str) -> str:
    """``language`` if PromoLens speaks it (a locale string is negotiated first); raises otherwise."""
    if language in LANGUAGES:
        return language
    found = negotiate(language, default="")
    if not found:
        raise LanguageError(f"unknown language {language!r}; choose one of {', '.join(LANGUAGES)}")
    return found


def set_language(language: str) -> Token:
    """Make ``language`` the current one in this context; returns the token to reset it."""
    return _language.set(check_language(language))


def reset_language(token: Token) -> None:
    _language.reset(token)


@contextlib.contextmanager
def use_language(language: str) -> Iterator[str]:
    """``with use_language("zh_CN"):`` messages and formats in Chinese inside the block."""
    token = set_language(language)
    try:
        yield _language.get()
    finally:
        _language.reset(token)


def current_language() -> str:
    return _language.get()


def catalogue_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@lru_cache(maxsize=None)
def translations(language: str) -> _gettext.NullTranslations:
    """The compiled catalogue of ``language`` (English: the messages themselves)."""
    if language == SOURCE_LANGUAGE:
        return _gettext.NullTranslations()
    path = catalogue_path(language)
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=language, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return _gettext.GNUTranslations(buffer)


def gettext(message: str) -> str:
    """``message`` in the current language (itself when it has no translation)."""
    return translations(_language.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(_language.get()).ngettext(singular, plural, n)


def N_(message: str) -> str:  # noqa: N802 - the gettext convention for "mark now, translate later"
    """Mark ``message`` for extraction without translating it (module-level constants)."""
    return message


_ = gettext


def fill(template: str, **values: object) -> str:
    """``template`` with each ``{name}`` replaced by ``values[name]``; other braces are left alone.

    Unlike :meth:`str.format` it is safe when a value (user data) holds braces, and placeholders
    it is not given (``{rows}``, filled later) stay in place.

    >>> fill("{rows} of column {column}", column="a{b}")
    '{rows} of column a{b}'
    """
    return _PLACEHOLDER.sub(lambda m: str(values[m.group(1)]) if m.group(1) in values else m.group(0), template)


def babel_locale(language: str | None = None) -> Locale:
    return Locale.parse(language or _language.get())


def format_number(value: float, digits: int | None = None) -> str:
    """A number with the current locale's grouping (``digits`` decimals when given)."""
    if digits is None:
        return numbers.format_decimal(value, locale=babel_locale())
    return numbers.format_decimal(value, format=f"#,##0.{'0' * digits}" if digits else "#,##0",
                                  locale=babel_locale())


def format_percent(share: float, digits: int = 1) -> str:
    """A share (0.125) as a percentage in the current locale ('12.5%')."""
    return numbers.format_percent(share, format=f"#,##0.{'0' * digits}%" if digits else "#,##0%",
                                  locale=babel_locale())


def format_currency(amount: float, currency: str) -> str:
    """Money in the current locale (``format_currency(1234.5, "CNY")`` -> '¥1,234.50')."""
    return numbers.format_currency(amount, currency, locale=babel_locale())


def format_date(value: date | datetime, form: str = "medium") -> str:
    """A date in the current locale (``"medium"``: 'Mar 5, 2024' / '2024年3月5日')."""
    return dates.format_date(value, format=form, locale=babel_locale())


__all__ = [
    "DOMAIN", "LANGUAGES", "LANG_ENV", "LOCALE_DIR", "SOURCE_LANGUAGE", "LanguageError", "N_", "_",
    "babel_locale", "catalogue_path", "check_language", "current_language", "fill", "format_currency",
    "format_date",
    "format_number", "format_percent", "gettext", "negotiate", "ngettext", "reset_language", "set_language",
    "translations", "use_language",
]
