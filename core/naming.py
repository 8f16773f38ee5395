"""Turn identifiers into words and back: the vocabulary of schema linking.

``split_identifier("BillingCountry")`` gives ``["billing", "country"]``,
``split_identifier("mrc_amt")`` gives ``["mrc", "amt"]`` and lower-case
compounds such as ``playlisttrack`` are split with wordninja's English word
frequencies. ``expand`` reads abbreviations from the shipped dictionary
(``core/data/abbreviations.json``); ``singular`` and ``plural`` handle the
English inflections that questions use ("countries" for ``Country``).
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

import wordninja

_DATA = Path(__file__).resolve().parent / "data"
_CAMEL = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
_IRREGULAR = {
    "people": "person",
    "children": "child",
    "men": "man",
    "women": "woman",
    "data": "data",
    "media": "media",
    "series": "series",
    "species": "species",
    "criteria": "criterion",
    "indices": "index",
    "analyses": "analysis",
    "statuses": "status",
    "addresses": "address",
    "aliases": "alias",
    "buses": "bus",
    "feet": "foot",
    "mice": "mouse",
    "geese": "goose",
    "teeth": "tooth",
    "leaves": "leaf",
    "lives": "life",
    "wives": "wife",
    "knives": "knife",
}
_IRREGULAR_PLURAL = {v: k for k, v in _IRREGULAR.items() if k != v}
_NOT_PLURAL = ("ss", "us", "is", "ics", "ous", "news", "yes")


@functools.cache
def abbreviations() -> dict[str, str]:
    """The abbreviation dictionary: general terms, then the domain section."""
    data = json.loads((_DATA / "abbreviations.json").read_text(encoding="utf-8"))
    return {**data["general"], **data["domain"]}


@functools.cache
def _word_costs() -> dict[str, float]:
    return wordninja.DEFAULT_LANGUAGE_MODEL._wordcost


def is_word(token: str) -> bool:
    """True for an English word in wordninja's frequency list (about 125k words)."""
    return token.lower() in _word_costs()


def word_rank_cost(token: str) -> float:
    """How rare a word is (lower is commoner); unknown words cost infinity."""
    return _word_costs().get(token.lower(), float("inf"))


def split_compound(token: str) -> list[str]:
    """Split a lower-case run of letters into words when that reads better.

    A known word stays whole; otherwise the cheapest split into known words
    of three letters or more wins; failing that the token stays whole.

    >>> split_compound("playlisttrack"), split_compound("invoiceline"), split_compound("aloc")
    (['playlist', 'track'], ['invoice', 'line'], ['aloc'])
    """
    lowered = token.lower()
    if len(lowered) < 6 or is_word(lowered) or not lowered.isalpha():
        return [lowered]
    best: tuple[float, list[str]] | None = None
    for i in range(3, len(lowered) - 2):
        left, right = lowered[:i], lowered[i:]
        if is_word(left) and is_word(right):
            cost = word_rank_cost(left) + word_rank_cost(right)
            if best is None or cost < best[0]:
                best = (cost, [left, right])
    if best is not None:
        return best[1]
    pieces = wordninja.split(lowered)
    if len(pieces) > 1 and all(len(p) >= 3 for p in pieces):
        return [p.lower() for p in pieces]
    return [lowered]


def split_identifier(name: str) -> list[str]:
    """The words of an identifier: snake_case, camelCase, digits and compounds.

    >>> split_identifier("BillingCountry"), split_identifier("svc_actv_dt")
    (['billing', 'country'], ['svc', 'actv', 'dt'])
    >>> split_identifier("HTTPStatusCode"), split_identifier("MediaTypeId")
    (['http', 'status', 'code'], ['media', 'type', 'id'])
    """
    words: list[str] = []
    for chunk in re.split(r"[^A-Za-z0-9]+", name):
        if not chunk:
            continue
        for part in _CAMEL.findall(chunk):
            if part.islower() and part.isalpha():
                words.extend(split_compound(part))
            else:
                words.append(part.lower())
    return words


def expand(word: str) -> str:
    """The abbreviation's expansion, or the word itself."""
    return abbreviations().get(word.lower(), word.lower())


def singular(word: str) -> str:
    """English singular of a lower-case word ("countries" → "country").

    >>> [singular(w) for w in ["countries", "invoices", "boxes", "status", "tracks", "people"]]
    ['country', 'invoice', 'box', 'status', 'track', 'person']
    """
    w = word.lower()
    if w in _IRREGULAR:
        return _IRREGULAR[w]
    if len(w) <= 3 or w.endswith(_NOT_PLURAL):
        return w
    if w.endswith("ies") and len(w) > 4:
        return w[:-3] + "y"
    if w.endswith(("sses", "shes", "ches", "xes", "zes")):
        return w[:-2]
    if w.endswith("s") and not w.endswith("ss"):
        return w[:-1]
    return w


def plural(word: str) -> str:
    """English plural of a lower-case word ("country" → "countries")."""
    w = word.lower()
    if w in _IRREGULAR_PLURAL:
        return _IRREGULAR_PLURAL[w]
    if w.endswith("y") and len(w) > 2 and w[-2] not in "aeiou":
        return w[:-1] + "ies"
    if w.endswith(("s", "sh", "ch", "x", "z")):
        return w + "es"
    return w + "s"


def humanize(name: str) -> str:
    """An identifier as words, abbreviations expanded ("cust_nm" → "customer name")."""
    return " ".join(expand(w) for w in split_identifier(name))
