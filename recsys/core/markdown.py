"""Show user-controlled values inside Markdown literally: one escaping helper for every page.

Streamlit renders ``st.markdown``, captions, alerts, subheaders and widget labels as Markdown
(GitHub flavour: links, images, autolinked URLs and e-mail addresses, HTML-like tags, ``:red[...]``
colours, ``:material/...:`` icons, ``$...$`` maths). A value from the user's data (a customer id, an
offer name, a column name, a file name, an error message quoting them) must never become markup: a
crafted ``![x](https://tracker/p.png)`` would make every viewer's browser fetch a tracking image.

:func:`escape_markdown` backslash-escapes the characters that open markup (``\\ ` * _ { } [ ] < > ~ $
| # @``), a colon that starts a URL scheme or a Streamlit directive (``https://``, ``:red[``) and the
dot of ``www.``, so nothing autolinks; line breaks become spaces so a value cannot start a block of
its own. CommonMark shows an escaped character as itself, so the value reads exactly as typed;
ordinary punctuation (``. , - ( ) :``) is left alone so messages stay readable in the source too.
Pages escape each value, not the sentence around it.

>>> escape_markdown("![x](https://t.example/p.png)")
'!\\\\[x\\\\](https\\\\://t.example/p.png)'
>>> escape_markdown("Ann <ann@example.com>, see www.example.com\\n# Big")
'Ann \\\\<ann\\\\@example.com\\\\>, see www\\\\.example.com \\\\# Big'
"""

from __future__ import annotations

import re

_SPECIAL = re.compile(r"([\\`*_{}\[\]<>~$|#@])")
_SCHEME_OR_DIRECTIVE_COLON = re.compile(r":(?=[A-Za-z/])")
_WWW_DOT = re.compile(r"(?i)(www)\.")
_LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029]+")


def escape_markdown(value: object) -> str:
    """``value`` as text that Markdown shows literally (no links, images, emphasis, HTML or maths)."""
    text = _SPECIAL.sub(r"\\\1", _LINE_BREAKS.sub(" ", str(value)))
    return _WWW_DOT.sub(r"\1\\.", _SCHEME_OR_DIRECTIVE_COLON.sub(r"\\:", text))


__all__ = ["escape_markdown"]
