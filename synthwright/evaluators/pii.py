"""Personal data in text: emails, phone numbers, payment card numbers, IBANs and account numbers, person names.

Numbers are validated, not just matched: a card number must pass the Luhn check and an IBAN its country length
and ISO 13616 mod-97 check, so order numbers and dates are not flagged; a bank account number, sort code or
routing number counts when the text names it as one ("account number 31926819"), under the `iban` kind, and
is redacted as [ACCOUNT]. Phone numbers go through Google's libphonenumber port (`phonenumbers`) when it is
installed, with VALID leniency for the recipe's region; whatever the region, a number written the way only
phone numbers are is one too: international (+44 20 7946 0958, 0044 …), national with its trunk 0 and 10-11
digits (0827319658, 07700 900123, 06 12 34 56 78) or North American with separators ((415) 555-0134).
Amounts, years, dates and order numbers stay. Names come from the
first- and last-name lists that Faker ships (offline, no model): a known first name followed by
a known last name, or a title (Mr, Ms, Dr…) followed by a capitalised word. That finds the
common Western names a model invents or remembers; it is not a general NER and misses others.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Iterable

from synthwright.evaluators.normalize import normalize

TOKENS = {"email": "[EMAIL]", "phone": "[PHONE]", "card": "[CARD]", "iban": "[IBAN]", "account": "[ACCOUNT]",
          "name": "[NAME]"}

_EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){10,32}")
_PHONE_FALLBACK = re.compile(r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{3}\)|\d{3})[ .-]?\d{3}[ .-]?\d{4}(?!\d)")
# Written the way only phone numbers are, in any region (each with the digit counts in PHONE_DIGITS):
_START = r"(?<![\w+/.,:-])(?<!\d[ .-])"  # not inside a word, a path, a decimal or a longer run of digit groups
_END = r"(?![\w/]|[ .,:-]?\d)"  # nor running on into one
PHONE_SHAPES = {
    "international": re.compile(r"(?<![\w+])(?<!\d[ .-])\+[1-9]\d{0,2}(?:[ .-]?\(?\d{1,4}\)?){2,6}" + _END),
    "international_00": re.compile(_START + r"00[1-9]\d{0,2}(?:[ .-]\(?\d{1,4}\)?){2,6}" + _END),
    "national": re.compile(_START + r"(?:\(0[1-9]\d{0,3}\) ?|0[1-9]\d{0,3}[ .-]?)\d{2,4}(?:[ .-]?\d{2,4}){0,3}" + _END),
    "north_american": re.compile(_START + r"(?:\([2-9]\d\d\) ?|[2-9]\d\d[ .-])[2-9]\d\d[ .-]\d{4}" + _END),
}
PHONE_DIGITS = {"international": (8, 15), "international_00": (11, 17), "national": (10, 11), "north_american": (10, 10)}
_ACCOUNT = re.compile(r"\b(?:(?:bank )?account|acct|a/c)\.?(?: (?:number|no\.?|num\.?|nr\.?|#))?(?: is)?[ :#]*"
                      r"(\d(?:[ -]?\d){5,16})(?![\d-])"
                      r"|\bsort[ -]?code(?: is)?[ :]*(\d\d[ -]?\d\d[ -]?\d\d)(?![\d-])"
                      r"|\brouting (?:number|no\.?|#)(?: is)?[ :#]*(\d{9})(?!\d)", re.IGNORECASE)
_TITLED = re.compile(r"\b(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof)\.? ([A-Z][a-z]+(?:-[A-Z][a-z]+)?)")
_CAPITALISED = re.compile(r"\b[A-Z][a-z]+(?:-[A-Z][a-z]+)?\b")
_DIGIT = re.compile(r"\d")

# ISO 13616 IBAN lengths by country (SWIFT IBAN registry).
IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BI": 27, "BR": 29,
    "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27, "DK": 18, "DO": 28, "EE": 20, "EG": 29,
    "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28,
    "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28,
    "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20,
    "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23, "PK": 24, "PL": 28, "PS": 29, "PT": 25,
    "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24, "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27,
    "SO": 23, "ST": 25, "SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}

# Faker locales whose name lists serve each recipe language; others fall back to English.
NAME_LOCALES = {"en": ("en_US", "en_GB"), "de": ("de_DE",), "fr": ("fr_FR",), "es": ("es_ES",), "it": ("it_IT",),
                "nl": ("nl_NL",), "pt": ("pt_PT", "pt_BR")}


@dataclass(frozen=True)
class Hit:
    kind: str
    start: int
    end: int
    value: str


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def iban_ok(iban: str) -> bool:
    """Country length and the mod-97 check of ISO 13616 (`iban` without spaces, upper case)."""
    if IBAN_LENGTHS.get(iban[:2]) != len(iban) or not iban[2:4].isdigit():
        return False
    moved = iban[4:] + iban[:4]
    return int("".join(str(int(ch, 36)) for ch in moved)) % 97 == 1


def _cards(text: str) -> Iterable[Hit]:
    for m in _CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if 13 <= len(digits) <= 19 and len(set(digits)) > 1 and luhn_ok(digits):
            yield Hit("card", m.start(), m.end(), m.group())


def _accounts(text: str) -> Iterable[Hit]:
    """Account numbers, sort codes and routing numbers that the text names as such (the number alone is redacted)."""
    for m in _ACCOUNT.finditer(text):
        group = next(g for g in (1, 2, 3) if m.group(g) is not None)
        yield Hit("account", m.start(group), m.end(group), m.group(group))


def _ibans(text: str) -> Iterable[Hit]:
    for m in _IBAN.finditer(text):
        want = IBAN_LENGTHS.get(m.group()[:2])
        if want is None:
            continue
        # The pattern may run on into a following upper-case word: keep the country's length only.
        kept, end = 0, m.start()
        for i, ch in enumerate(m.group()):
            if ch != " ":
                kept += 1
            if kept == want:
                end = m.start() + i + 1
                break
        if kept == want and iban_ok(text[m.start():end].replace(" ", "")):
            yield Hit("iban", m.start(), end, text[m.start():end])


def _phones(text: str, region: str) -> Iterable[Hit]:
    if len(_DIGIT.findall(text)) < 7:
        return
    yield from _phone_shapes(text)
    try:
        import phonenumbers
    except ImportError:  # the fallback pattern: fewer formats, same intent
        for m in _PHONE_FALLBACK.finditer(text):
            yield Hit("phone", m.start(), m.end(), m.group())
        return
    for match in phonenumbers.PhoneNumberMatcher(text, region.upper(), leniency=phonenumbers.Leniency.VALID):
        yield Hit("phone", match.start, match.end, match.raw_string)


def _phone_shapes(text: str) -> Iterable[Hit]:
    """Numbers written as only phone numbers are (PHONE_SHAPES), whatever the recipe's region."""
    for shape, pattern in PHONE_SHAPES.items():
        low, high = PHONE_DIGITS[shape]
        for m in pattern.finditer(text):
            if low <= len(_DIGIT.findall(m.group())) <= high:
                yield Hit("phone", m.start(), m.end(), m.group())


@lru_cache(maxsize=8)
def name_lists(language: str = "en") -> tuple[frozenset[str], frozenset[str]]:
    """First and last names from Faker's person providers for `language`."""
    import importlib

    first: set[str] = set()
    last: set[str] = set()
    for locale in NAME_LOCALES.get(language.split("-")[0].lower(), NAME_LOCALES["en"]):
        provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
        for attr, bucket in (("first_names", first), ("last_names", last)):
            bucket.update(n for n in getattr(provider, attr, ()) if n[:1].isupper() and len(n) > 2)
    return frozenset(first), frozenset(last)


def _names(text: str, language: str) -> Iterable[Hit]:
    first, last = name_lists(language)
    for m in _TITLED.finditer(text):
        yield Hit("name", m.start(), m.end(), m.group())
    words = list(_CAPITALISED.finditer(text))
    for a, b in zip(words, words[1:]):
        if a.group() in first and b.group() in last and text[a.end():b.start()].strip() == "":
            yield Hit("name", a.start(), b.end(), text[a.start():b.end()])


def find_pii(text: str, kinds: Iterable[str], *, region: str = "US", language: str = "en") -> list[Hit]:
    """Non-overlapping hits in text order. Cards and IBANs are found before phones, which cannot then reuse their digits."""
    kinds = set(kinds)
    hits: list[Hit] = []
    if "email" in kinds:
        hits += [Hit("email", m.start(), m.end(), m.group()) for m in _EMAIL.finditer(text)]
    if "iban" in kinds:
        hits += _ibans(text)
        hits += _accounts(text)
    if "card" in kinds:
        hits += _cards(text)
    if "phone" in kinds:
        masked = text
        for h in hits:  # hide what is already claimed, keeping offsets
            masked = masked[:h.start] + " " * (h.end - h.start) + masked[h.end:]
        hits += _phones(masked, region)
    if "name" in kinds:
        hits += _names(text, language)
    hits.sort(key=lambda h: (h.start, -(h.end - h.start)))
    kept: list[Hit] = []
    for h in hits:
        if not kept or h.start >= kept[-1].end:
            kept.append(h)
    return kept


def redact(text: str, hits: list[Hit]) -> str:
    """Replace each hit with its kind's token, e.g. "[EMAIL]"."""
    for h in sorted(hits, key=lambda h: h.start, reverse=True):
        text = text[:h.start] + TOKENS[h.kind] + text[h.end:]
    return text


# Fields that hold the recipe's own values or user documents, never model-written personal data.
_NOT_REDACTED = frozenset({"label", "topic", "intent", "context", "role"})


def _map_strings(value: Any, fn: Callable[[str], str], key: str | None = None) -> Any:
    if key in _NOT_REDACTED:
        return value
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, list):
        return [_map_strings(v, fn) for v in value]
    if isinstance(value, dict):
        return {k: _map_strings(v, fn, k) for k, v in value.items()}
    return value


def pii_filter(cands: list[Any], state: Any, cfg: Any) -> None:
    """Emails, phones, valid card numbers and IBANs, names (opt-in): reject, or redact in place."""
    pc = cfg.pii
    if pc.mode == "off" or not pc.kinds:
        return

    def hits(text: str):
        return find_pii(text, pc.kinds, region=pc.phone_region, language=state.language)

    for c in cands:
        found = hits(c.text)
        if not found:
            continue
        kinds = ", ".join(dict.fromkeys(h.kind for h in found))
        if pc.mode == "reject":
            c.reject("pii", f"personal data ({kinds}): {found[0].value!r}")
            continue
        c.data = _map_strings(c.data, lambda s: redact(s, hits(s)))
        c.text = redact(c.text, found)
        c.key = normalize(c.text)
        c.features["redacted"] = [h.kind for h in found]
