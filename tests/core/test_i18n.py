"""Languages: the catalogue is complete and consistent, the language is per context, formats follow the locale."""

from __future__ import annotations

import re
import threading
import tomllib
from datetime import date
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from recsys.core import i18n
from recsys.core.i18n import fill, use_language
from recsys.core.i18n import gettext as _

ROOT = Path(__file__).resolve().parents[2]
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2)}
#: Placeholders that only make English verbs agree with a count: other languages may drop them.
AGREEMENT = {"are", "have", "hold", "appear"}
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _extracted() -> set[str | tuple[str, str]]:
    """Every message marked in recsys/, pages/ and app.py (what `make messages` extracts, by the same Babel
    extractor and babel.cfg's files)."""
    method_map = [("recsys/**.py", "python"), ("pages/**.py", "python"), ("app.py", "python")]
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map=method_map, keywords=KEYWORDS, strip_comment_tags=True):
        found.add(message if isinstance(message, str) else tuple(message))
    return found


def _catalogue():
    with i18n.catalogue_path("zh_CN").open("rb") as handle:
        return read_po(handle, locale="zh_CN")


def _untranslated(catalogue, extracted) -> list:
    missing = []
    for message in sorted(extracted, key=str):
        key = message[0] if isinstance(message, tuple) else message
        entry = catalogue.get(key)
        strings = [] if entry is None else ([entry.string] if isinstance(entry.string, str) else list(entry.string))
        if entry is None or entry.fuzzy or not strings or not all(s.strip() for s in strings):
            missing.append(message)
    return missing


def test_every_marked_message_has_a_chinese_translation():
    extracted = _extracted()
    assert len(extracted) > 100  # the data-import problems, the CLI's help and summaries
    missing = _untranslated(_catalogue(), extracted)
    assert not missing, f"untranslated messages (run `make messages`, then translate):\n{missing}"


def test_completeness_check_fails_on_a_missing_or_empty_message():
    """The check above is not vacuous: a marked message absent from the catalogue, or empty, is caught."""
    extracted = _extracted()
    catalogue = _catalogue()
    catalogue.delete("Cleaning report:")
    catalogue["Columns used:"].string = ""
    assert _untranslated(catalogue, extracted) == ["Cleaning report:", "Columns used:"]


def test_translations_keep_the_placeholders():
    """A translation fills the same {names} (English-only verb agreement may be dropped), never new ones."""
    bad = []
    for entry in _catalogue():
        if not entry.id:
            continue
        ids = [entry.id] if isinstance(entry.id, str) else list(entry.id)
        strings = [entry.string] if isinstance(entry.string, str) else list(entry.string)
        wanted = set(PLACEHOLDER.findall(ids[-1])) - AGREEMENT
        for s in strings:
            got = set(PLACEHOLDER.findall(s))
            if not wanted <= got or not got <= set(PLACEHOLDER.findall(ids[-1])):
                bad.append((ids[0], s))
    assert not bad, bad


def test_language_is_per_context_and_defaults_to_english():
    assert i18n.current_language() == "en"
    assert _("Cleaning report:") == "Cleaning report:"
    with use_language("zh_CN"):
        assert _("Cleaning report:") == "清洗报告："
        seen = {}
        thread = threading.Thread(target=lambda: seen.setdefault("lang", _("Cleaning report:")))
        thread.start()
        thread.join()
        assert seen["lang"] == "Cleaning report:"  # another session's thread keeps its own language
    assert _("Cleaning report:") == "Cleaning report:"
    with pytest.raises(i18n.LanguageError, match="unknown language"):
        i18n.set_language("klingon")


@pytest.mark.parametrize(("given", "expected"), [
    ("zh-CN", "zh_CN"), ("zh_CN.UTF-8", "zh_CN"), ("zh-Hans", "zh_CN"), ("zh-TW", "zh_CN"),
    ("en-GB", "en"), ("fr-FR,zh;q=0.8", "zh_CN"), ("de-DE", "en"), ("C.UTF-8", "en"), (None, "en"), ("", "en"),
])
def test_negotiate_from_a_browser_or_system_locale(given, expected):
    assert i18n.negotiate(given) == expected


def test_numbers_money_and_dates_follow_the_locale():
    assert (i18n.format_percent(0.125), i18n.format_number(1234567), i18n.format_date(date(2024, 3, 5))) == \
        ("12.5%", "1,234,567", "Mar 5, 2024")
    with use_language("zh_CN"):
        assert i18n.format_date(date(2024, 3, 5)) == "2024年3月5日"
        assert i18n.format_currency(1234.5, "CNY") == "¥1,234.50"
        assert i18n.format_number(0.5, 2) == "0.50"


def test_fill_leaves_braces_in_values_and_unknown_placeholders_alone():
    assert fill("{a} and {b}", a="{b}") == "{b} and {b}"


def test_the_catalogues_ship_with_the_package():
    """pip install (not only -e) must carry the .po files: pyproject's package-data matches them."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["recsys"]
    shipped = {p for pattern in patterns for p in (ROOT / "recsys").glob(pattern)}
    assert i18n.catalogue_path("zh_CN") in shipped
    assert any("Babel" in d for d in config["project"]["dependencies"])
