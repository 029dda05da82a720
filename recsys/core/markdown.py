"""Show user-controlled values inside Markdown literally: one escaping helper for every page.

Streamlit renders ``st.markdown``, captions, alerts, subheaders and widget labels as Markdown
(GitHub flavour: links, images, autolinked URLs, HTML-like tags, ``:red[...]`` colours,
``:material/...:`` icons, ``$...$`` maths). A value from the user's data (a customer id, an offer
name, a column name, a file name, an error message quoting them) must never become markup: a
crafted ``![x](https://tracker/p.png)`` would make every viewer's browser fetch a tracking image.

:func:`escape_markdown` backslash-escapes every ASCII punctuation character (CommonMark allows an
escape before any of them, and shows the character itself), which also breaks autolinks
(``https\\://``, ``www\\.``), and folds line breaks into spaces so a value cannot start a block of
its own. Pages escape each value, not the sentence around it.

>>> escape_markdown("![x](https://t.example/p.png)")
'\\\\!\\\\[x\\\\]\\\\(https\\\\:\\\\/\\\\/t\\\\.example\\\\/p\\\\.png\\\\)'
>>> escape_markdown("Ann\\n# Big")
'Ann \\\\# Big'
"""

from __future__ import annotations

import re

_PUNCTUATION = re.compile(r"""([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~])""")
_LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029]+")


def escape_markdown(value: object) -> str:
    """``value`` as text that Markdown shows literally (no links, images, emphasis, HTML or maths)."""
    return _PUNCTUATION.sub(r"\\\1", _LINE_BREAKS.sub(" ", str(value)))


__all__ = ["escape_markdown"]
