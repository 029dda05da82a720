"""Direct identifiers: find them, keep them out of models and exports, pseudonymise ids.

A *direct identifier* is a column that names a person on its own: e-mail addresses, phone numbers,
personal names, postal addresses, IP addresses, national id or card numbers. PromoLens never turns
such a column into a model feature and never writes it into an export. Detection uses the column
name and, for text columns, the content of a small random sample (vectorised regular expressions).

Customer ids can be replaced by *keyed pseudonyms*: the same id and key always give the same
pseudonym, another key gives another one, and without the key the mapping cannot be recomputed.

>>> import pandas as pd
>>> frame = pd.DataFrame({"email": ["ann@example.com", "bo@example.org"], "tier": ["gold", "silver"]})
>>> sorted(find_identifiers(frame))
['email']
>>> key = b"0123456789abcdef0123456789abcdef"
>>> pseudonymise(pd.Series(["17850", "17850"]), key).nunique()
1
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import Iterable

import numpy as np
import pandas as pd

from recsys.core.i18n import N_
from recsys.core.i18n import gettext as _

#: How many non-missing values of a column are inspected for content-based detection.
SAMPLE_SIZE = 1000
#: Share of sampled values that must match a pattern for the column to count as identifying.
CONTENT_SHARE = 0.5
#: Share of sampled values that must *contain* an e-mail address for a free-text column to count.
TEXT_CONTENT_SHARE = 0.1

PSEUDONYM_PREFIX = "u_"
_KEY_CONTEXT = b"promolens/pseudonym/v1"

# --- detection by name ------------------------------------------------------------------------

# Joined, lower-cased name parts that identify a person wherever they occur in a column name.
_NAME_CONTAINS: tuple[tuple[str, str], ...] = (
    ("email", "e-mail addresses"),
    ("phone", "phone numbers"),
    ("telephone", "phone numbers"),
    ("firstname", "personal names"),
    ("lastname", "personal names"),
    ("surname", "personal names"),
    ("fullname", "personal names"),
    ("forename", "personal names"),
    ("givenname", "personal names"),
    ("familyname", "personal names"),
    ("middlename", "personal names"),
    ("maidenname", "personal names"),
    ("customername", "personal names"),
    ("clientname", "personal names"),
    ("contactname", "personal names"),
    ("membername", "personal names"),
    ("username", "user names"),
    ("ipaddress", "IP addresses"),
    ("streetaddress", "postal addresses"),
    ("addressline", "postal addresses"),
    ("homeaddress", "postal addresses"),
    ("postaladdress", "postal addresses"),
    ("billingaddress", "postal addresses"),
    ("shippingaddress", "postal addresses"),
    ("deliveryaddress", "postal addresses"),
    ("socialsecurity", "national id numbers"),
    ("passport", "passport numbers"),
    ("nationalid", "national id numbers"),
    ("creditcard", "card numbers"),
    ("cardnumber", "card numbers"),
    ("iban", "bank account numbers"),
)
# Name words that identify a person only when they are the whole name (or one word of it).
#: What identifying columns hold, in words (marked for translation: :func:`reason_in_words`).
IDENTIFIER_WORDS = [N_("e-mail addresses"), N_("phone numbers"), N_("personal names"), N_("postal addresses"),
                    N_("IP addresses"), N_("national id numbers")]
#: The reasons' sentence forms (English, as stored with a dataset) and their translatable templates.
_REASON_FORMS = (
    (re.compile(r"^its name suggests (?P<what>.+)$"), N_("its name suggests {what}")),
    (re.compile(r"^(?P<share>\S+) of sampled values look like (?P<what>.+)$"), N_("{share} of sampled values look like {what}")),
    (re.compile(r"^(?P<share>\S+) of sampled values contain (?P<what>.+)$"), N_("{share} of sampled values contain {what}")),
)
_IDENTIFIER_WARNING = re.compile(r"^column '(?P<column>.*)' holds direct identifiers \((?P<reason>.*)\)$")


def reason_in_words(reason: str) -> str:
    """A stored identifier reason ("its name suggests e-mail addresses") in the current language."""
    for pattern, template in _REASON_FORMS:
        found = pattern.match(str(reason))
        if found:
            values = found.groupdict()
            return _(template).format(**{**values, "what": _(values["what"])})
    return _(str(reason))


def identifier_warning_in_words(message: str) -> str:
    """A stored import warning about a direct identifier, in the current language (others: as stored)."""
    found = _IDENTIFIER_WARNING.match(str(message))
    if not found:
        return _(str(message))
    return _("column '{column}' holds direct identifiers ({reason})").format(
        column=found["column"], reason=reason_in_words(found["reason"]))


_NAME_WORDS: dict[str, str] = {
    "mail": "e-mail addresses",
    "tel": "phone numbers",
    "mobile": "phone numbers",
    "cell": "phone numbers",
    "cellphone": "phone numbers",
    "msisdn": "phone numbers",
    "fax": "phone numbers",
    "address": "postal addresses",
    "street": "postal addresses",
    "ip": "IP addresses",
    "ipv4": "IP addresses",
    "ipv6": "IP addresses",
    "ssn": "national id numbers",
}
# Words that, next to an ambiguous word above, show the column is not an identifier.
_NOT_IDENTIFYING_WORDS = frozenset({
    "opt", "optin", "optout", "consent", "verified", "valid", "has", "is", "flag", "domain", "type",
    "os", "app", "device", "share", "rate", "count", "opened", "open", "click", "clicked", "sent",
})
_BOOLEAN_TEXT = frozenset({"true", "false", "yes", "no", "y", "n", "t", "f", "0", "1", ""})

# --- detection by content ---------------------------------------------------------------------

_EMAIL = r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"
# Phone numbers: 7-15 digits written with a leading + / 00, or in groups separated by spaces,
# dashes, dots or parentheses. Plain digit strings (customer numbers) are not phones.
_PHONE = (
    r"\+\d[\d \-.()/]{5,20}\d"  # +44 7700 900123, +447700900123
    r"|00\d{1,3}[ \-./(][\d \-.()/]{4,20}\d"  # 0044 7700 900123
    r"|\(?\d{2,5}\)?(?:[ \-./]\d{2,8}){1,4}"  # (555) 123-4567, 07700 900123
)
_DATE_LIKE = r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}.*|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}.*"
_DECIMAL_LIKE = r"[-+]?\d{1,3}(?:[,.]\d{3})*(?:[.,]\d+)?"
_IPV4 = r"(?:\d{1,3}\.){3}\d{1,3}"
_PERSON_NAME = r"[A-Za-z][A-Za-z'’-]+(?: [A-Za-z][A-Za-z'’.-]*){1,2}"
_PERSON_NAME_REVERSED = r"[A-Za-z][A-Za-z'’-]+, [A-Za-z][A-Za-z'’-]+"

#: Common given names (lower case). A column of two- or three-word values is taken for personal
#: names only when many values start with one of these, so "Summer Sale" or "Red Mug" never are.
COMMON_GIVEN_NAMES = frozenset("""
aaron abigail adam adrian ahmed aisha alan albert alex alexander alexandra alice alicia alison amanda
amelia amy ana andrea andreas andrew andy angela anna anne anthony antonio arthur ashley barbara ben
benjamin beth betty bill bob brandon brian bruce carl carla carlos carmen carol caroline catherine
charles charlie charlotte chen chris christian christina christine christopher claire claudia daniel
daniela david deborah dennis diana diego donald donna dorothy edward elena eliza elizabeth ella emily
emma eric erik eva fatima felix fernando florian francesca francesco frank gabriel gary george
georgia giulia giuseppe grace gregory hannah harry heather helen henry hugo ian isabel isabella
jack jacob james jan jane janet jason javier jean jeffrey jennifer jessica jim joan joe johannes
john jonathan jorge jose joseph joshua juan judith julia julie justin karen kate katherine kathleen
kelly kenneth kevin kim klaus larry laura lauren lea leon linda lisa lucas lucia luis luka lukas
maria marie mark martin mary matthew max mehmet melissa mia michael michelle mohamed mohammed
muhammad nancy natalie nathan nicholas nicole noah olga oliver olivia omar pablo pamela patricia
patrick paul peter philip pierre priya rachel rahul raj rebecca richard robert roger ronald rose
ryan sam samantha samuel sandra sara sarah scott sean sergio sharon simon sofia sophia sophie
stefan stephanie stephen steven susan tanaka thomas tim timothy tom tyler victoria vincent wang
wei william yuki zoe
""".split())


def _name_words(name: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", str(name))
    return [w for w in re.split(r"[^a-z0-9]+", spaced.lower()) if w]


def _reason_from_name(name: str) -> str | None:
    words = _name_words(name)
    joined = "".join(words)
    for part, what in _NAME_CONTAINS:
        if part in joined:
            return f"its name suggests {what}"
    if any(w in _NOT_IDENTIFYING_WORDS for w in words):
        return None
    for word in words:
        if word in _NAME_WORDS:
            return f"its name suggests {_NAME_WORDS[word]}"
    return None


def _sample(values: pd.Series, size: int = SAMPLE_SIZE, seed: int = 0) -> pd.Series:
    """Up to ``size`` non-missing values, a random sample when the column is longer."""
    n = len(values)
    if n > 4 * size:
        positions = np.sort(np.random.default_rng(seed).choice(n, size=4 * size, replace=False))
        values = values.iloc[positions]
    values = values.dropna()
    if len(values) > size:
        values = values.sample(size, random_state=seed)
    return values


def _is_text(values: pd.Series) -> bool:
    return bool(
        pd.api.types.is_string_dtype(values)
        or pd.api.types.is_object_dtype(values)
        or isinstance(values.dtype, pd.CategoricalDtype)
    )


def _looks_boolean(sample: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(sample):
        return True
    lowered = sample.astype(str).str.strip().str.lower()
    return bool(lowered.isin(_BOOLEAN_TEXT).all())


def _reason_from_content(sample: pd.Series) -> str | None:
    """Why a sample of text values looks identifying, or None."""
    text = sample.astype(str).str.strip()
    text = text[text != ""]
    if text.empty:
        return None

    def share(pattern: str) -> float:
        return float(text.str.fullmatch(pattern).mean())

    email = share(_EMAIL)
    if email >= CONTENT_SHARE:
        return f"{email:.0%} of sampled values look like e-mail addresses"
    inside = float(text.str.contains(EMAIL_IN_TEXT, regex=True).mean())
    if inside >= TEXT_CONTENT_SHARE:  # "Ann Smith <ann@example.com>", "mailto:..."
        return f"{inside:.0%} of sampled values contain e-mail addresses"
    masked = mask_identifiers(text)
    phones = float(masked.str.contains(re.escape(MASKS["phone"]), regex=True).mean())
    if phones >= TEXT_CONTENT_SHARE:  # "call 07911 123456 after 5pm"
        return f"{phones:.0%} of sampled values contain phone numbers"
    phone_like = text.str.fullmatch(_PHONE)
    not_phone = text.str.fullmatch(_DATE_LIKE) | text.str.fullmatch(_DECIMAL_LIKE) | text.str.fullmatch(_IPV4)
    digits = text.str.count(r"\d")
    phone = float((phone_like & ~not_phone & digits.between(7, 15)).mean())
    if phone >= CONTENT_SHARE:
        return f"{phone:.0%} of sampled values look like phone numbers"
    ip = share(_IPV4)
    if ip >= 0.8:
        return f"{ip:.0%} of sampled values look like IP addresses"
    forward = text.str.fullmatch(_PERSON_NAME)
    reversed_ = text.str.fullmatch(_PERSON_NAME_REVERSED)
    first_word = text.str.extract(r"^([A-Za-z]+)", expand=False).str.lower()
    after_comma = text.str.extract(r",\s*([A-Za-z]+)$", expand=False).str.lower()
    known = (forward & first_word.isin(COMMON_GIVEN_NAMES)) | (reversed_ & after_comma.isin(COMMON_GIVEN_NAMES))
    if float((forward | reversed_).mean()) >= CONTENT_SHARE and float(known.mean()) >= 0.3:
        return f"{float(known.mean()):.0%} of sampled values look like personal names"
    return None


def identifier_reason(name: str, values: pd.Series) -> str | None:
    """Why one column is a direct identifier, or None when it does not look like one.

    Parameters
    ----------
    name
        The column name as the user wrote it.
    values
        The column; only a sample of up to :data:`SAMPLE_SIZE` values is inspected.
    """
    sample = _sample(values)
    by_name = _reason_from_name(name)
    if by_name is not None and not (len(sample) and _looks_boolean(sample)):
        return by_name
    if len(sample) and _is_text(sample):
        if isinstance(sample.dtype, pd.CategoricalDtype):
            sample = sample.astype(str)
        return _reason_from_content(sample)
    return None


# --- identifiers inside values: ids and free text ---------------------------------------------

#: Regions whose national phone formats are recognised without a country code (libphonenumber).
PHONE_REGIONS: tuple[str, ...] = ("GB", "US", "DE", "FR", "NL", "ES", "IT", "IE", "BE", "AU")
#: An e-mail address anywhere in a text, also as ``mailto:`` or inside ``<...>``.
EMAIL_IN_TEXT = r"(?:mailto:)?[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
#: An IBAN-like bank account number: country code, 2 check digits, 11-30 letters or digits.
IBAN_IN_TEXT = r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b"
# A phone number written internationally: + and 7-15 digits, any grouping ("00..." is checked by
# libphonenumber: "0012345678" is as likely a customer number with leading zeros).
_INTERNATIONAL_PHONE = r"\+\d(?:[ \-.()/]?\d){6,16}\b"
# Runs of digits and separators long enough to be a phone number: checked by libphonenumber.
_DIGIT_RUN = r"\(?\d(?:[ \-.()/]{0,2}\d){6,16}"
#: What :func:`mask_identifiers` writes instead of each kind of identifier.
MASKS = {"email": "[e-mail]", "iban": "[account]", "phone": "[phone]"}


def _phonenumbers():  # noqa: ANN202 - the module
    import phonenumbers  # Google's libphonenumber: phone formats of every country, offline

    return phonenumbers


def _valid_phone(text: str) -> bool:
    """One candidate string: is it a valid phone number (international, or national in a known region)?"""
    pn = _phonenumbers()
    digits = re.sub(r"\D", "", text)
    candidates = [(text, None)] if text.lstrip().startswith("+") else []
    if text.strip().isdigit() and not text.strip().startswith("0"):
        candidates.append(("+" + digits, None))  # a country code written without the +
    else:
        candidates += [(text, region) for region in PHONE_REGIONS]
    for candidate, region in candidates:
        try:
            if pn.is_valid_number(pn.parse(candidate, region)):
                return True
        except pn.NumberParseException:
            continue
    return False


def _phone_values(text: pd.Series) -> pd.Series:
    """Which values (whole values) are phone numbers: grouped like one, written internationally,
    or digit strings of 10-15 digits that libphonenumber finds valid (so "17850" is not)."""
    digits = text.str.count(r"\d")
    grouped = text.str.fullmatch(_PHONE) & ~(text.str.fullmatch(_DATE_LIKE) | text.str.fullmatch(_DECIMAL_LIKE)
                                              | text.str.fullmatch(_IPV4)) & ~text.str.fullmatch(r"\d+")
    international = text.str.fullmatch(_INTERNATIONAL_PHONE)
    phone = (grouped | international) & digits.between(7, 15)
    candidates = text[text.str.fullmatch(r"\d{10,15}") & ~phone]
    if len(candidates):
        unique = pd.unique(candidates.to_numpy())
        valid = {value for value in unique if _valid_phone(str(value))}  # distinct candidates only
        phone |= text.isin(valid)
    return phone.fillna(False).astype(bool)


def identifier_values(values: pd.Series) -> pd.Series:
    """Per value: the kind of direct identifier it is or holds ("e-mail address", "phone number",
    "bank account number"), or None. E-mails are found anywhere in the value (``mailto:``, ``<..>``,
    "Ann <ann@x.org>"); phone numbers and IBANs must be the whole value.

    >>> identifier_values(pd.Series(["17850", "Ann <a@b.org>", "+44 7911 123456", "DE89370400440532013000"])).tolist()
    [None, 'e-mail address', 'phone number', 'bank account number']
    """
    text = values.astype("string").str.strip().fillna("")
    out = pd.Series(None, index=values.index, dtype=object)
    out[text.str.fullmatch(IBAN_IN_TEXT.replace("\\b", "")).fillna(False).to_numpy(bool)] = "bank account number"
    out[_phone_values(text).to_numpy(bool)] = "phone number"
    out[text.str.contains(EMAIL_IN_TEXT, regex=True).fillna(False).to_numpy(bool)] = "e-mail address"
    return out.astype(object).where(out.notna(), None)


_PLURALS = {"e-mail address": "e-mail addresses", "phone number": "phone numbers",
            "bank account number": "bank account numbers"}


def id_identifier_reason(name: str, ids: pd.Series) -> str | None:
    """Why a column of customer ids holds direct identifiers, or None.

    Stricter than :func:`identifier_reason`: every distinct id is checked, and one id that is an
    e-mail address, a phone number or a bank account number is enough (guest checkouts mix e-mails
    into customer numbers; a share threshold would export them).
    """
    distinct = pd.Series(pd.unique(ids.dropna().astype(str).to_numpy()))
    kinds = identifier_values(distinct).dropna()
    if len(kinds):
        counts = kinds.value_counts()
        what = " and ".join(
            f"1 looks like {'an' if k[0] in 'aeiou' else 'a'} {k}" if n == 1 else f"{n:,} look like {_PLURALS[k]}"
            for k, n in counts.items()
        )
        return f"of {len(distinct):,} distinct ids, {what}"
    return identifier_reason(name, ids)


def mask_identifiers(text: pd.Series) -> pd.Series:
    """``text`` with every e-mail address, phone number and IBAN-like number inside it replaced by
    ``[e-mail]``, ``[phone]``, ``[account]`` (missing values stay missing).

    >>> mask_identifiers(pd.Series(["Ann Smith <p1@example.com>, tel. 07911 123456", "order 17850"])).tolist()
    ['Ann Smith <[e-mail]>, tel. [phone]', 'order 17850']
    """
    if not len(text):
        return text
    masked = text.astype("string")
    masked = masked.str.replace(EMAIL_IN_TEXT, MASKS["email"], regex=True)
    masked = masked.str.replace(IBAN_IN_TEXT, MASKS["iban"], regex=True)
    masked = masked.str.replace(_INTERNATIONAL_PHONE, MASKS["phone"], regex=True)
    has_run = masked.str.contains(_DIGIT_RUN, regex=True).fillna(False)
    if has_run.any():
        pn = _phonenumbers()
        unique = pd.unique(masked[has_run].to_numpy())

        def mask_one(value: str) -> str:  # distinct texts with a long digit run only
            for region in PHONE_REGIONS[:4]:
                for match in reversed(list(pn.PhoneNumberMatcher(value, region, leniency=pn.Leniency.VALID))):
                    value = value[: match.start] + MASKS["phone"] + value[match.end:]
            return value

        replaced = {value: mask_one(str(value)) for value in unique}
        masked = masked.where(~has_run, masked.map(replaced))
    return masked.astype(object).where(text.notna(), text)


def find_identifiers(df: pd.DataFrame, skip: Iterable[str] = ()) -> dict[str, str]:
    """Find the columns of ``df`` that hold direct identifiers.

    Parameters
    ----------
    df
        Any table.
    skip
        Columns not to inspect (e.g. known feature columns).

    Returns
    -------
    dict
        Column name -> a short reason a marketer understands, for every identifying column.

    Examples
    --------
    >>> frame = pd.DataFrame({"Phone": ["+44 7700 900123"], "Country": ["UK"]})
    >>> find_identifiers(frame)
    {'Phone': 'its name suggests phone numbers'}
    """
    skipped = set(skip)
    found: dict[str, str] = {}
    for name in df.columns:  # a loop over columns; each check is vectorised over a sample
        if name in skipped:
            continue
        column = df[name]
        if isinstance(column, pd.DataFrame):  # duplicate column names: inspect the first
            column = column.iloc[:, 0]
        reason = identifier_reason(str(name), column)
        if reason is not None:
            found[str(name)] = reason
    return found


def drop_identifiers(df: pd.DataFrame, identifiers: Iterable[str]) -> pd.DataFrame:
    """Return ``df`` without the identifier columns (those that are present)."""
    doomed = [c for c in identifiers if c in df.columns]
    return df.drop(columns=doomed) if doomed else df


def new_key() -> bytes:
    """A fresh random 32-byte pseudonymisation key. Keep it secret and keep it safe."""
    return secrets.token_bytes(32)


def _hash_key(key: bytes) -> str:
    """The 16-character ASCII SipHash key derived from ``key``."""
    if not isinstance(key, (bytes, bytearray)) or len(key) < 16:
        raise ValueError("A pseudonymisation key must be at least 16 bytes; use privacy.new_key().")
    digest = hashlib.sha256(_KEY_CONTEXT + bytes(key)).digest()
    return base64.b64encode(digest[:12]).decode("ascii")


def key_fingerprint(key: bytes) -> str:
    """A short, non-reversible label of a key (to tell keys apart in manifests without storing them)."""
    return hashlib.sha256(b"promolens/key-label/v1" + bytes(key)).hexdigest()[:12]


def pseudonymise(ids: pd.Series, key: bytes, prefix: str = PSEUDONYM_PREFIX) -> pd.Series:
    """Replace ids by keyed pseudonyms such as ``"u_3f9a0c12d4e5b6a7"``.

    The pseudonym is a keyed SipHash-2-4 (64 bits) of the id's text, computed once per distinct id
    with pandas' vectorised hashing. Missing ids stay missing.

    Parameters
    ----------
    ids
        The ids (any dtype; compared as text).
    key
        A secret of at least 16 bytes, e.g. from :func:`new_key`.
    prefix
        Text put in front of every pseudonym.

    Returns
    -------
    pd.Series
        Pseudonyms with the index of ``ids``.

    Examples
    --------
    >>> key = b"k" * 32
    >>> p = pseudonymise(pd.Series(["a", "b", "a"]), key)
    >>> bool(p[0] == p[2]), bool(p[0] != p[1]), p[0].startswith("u_")
    (True, True, True)
    """
    hash_key = _hash_key(key)
    codes, uniques = pd.factorize(ids, use_na_sentinel=True)
    texts = np.asarray(pd.Index(uniques).astype(str), dtype=object)
    hashed = pd.util.hash_array(texts, hash_key=hash_key, categorize=False).astype(">u8")
    hexed = np.frombuffer(hashed.tobytes().hex().encode("ascii"), dtype="S16").astype("U16")
    labels = np.char.add(prefix, hexed)
    if len(np.unique(labels)) != len(labels):  # 64-bit collisions are astronomically rare
        raise ValueError("Two different ids got the same pseudonym; use another key (privacy.new_key()).")
    result = np.empty(len(codes), dtype=object)
    result[codes >= 0] = labels[codes[codes >= 0]]
    result[codes < 0] = np.nan
    return pd.Series(result, index=ids.index, name=ids.name, dtype="str")
