"""Schema linking: which words of a question name which tables, columns and values.

The lexicon holds, for every table and column of the main schema, the
phrases that may name it: the identifier's own words ("unit price" for
``UnitPrice``), abbreviations expanded ("customer name" for ``cust_nm``), the
table and column together ("invoice total"), the column's last word alone
as a weaker match ("country" for ``BillingCountry``), and the glossary's
meanings. Question words are compared in singular form.

The offline engine, the ambiguity check and the prompt's context selection
all read the same ``Linking``.
"""

from __future__ import annotations

import dataclasses
import re
from collections import defaultdict

from rapidfuzz import process
from rapidfuzz.distance import OSA

from core.glossary import Glossary
from core.naming import expand, singular, split_identifier
from core.schema import Schema
from core.value_index import ValueHit, ValueIndex

# Words that carry no schema meaning on their own.
STOPWORDS = frozenset(
    """
    a an the of in on at for to from by with without and or not no nor is are was were be been
    being am do does did done have has had having there here this that these those it its they
    them their theirs he she his her we our you your i me my mine what which who whom whose when
    where why how many much all any each every per some such than then so as into onto about
    over under between among through during before after above below up down out off again
    please list show display give get find tell return also just only both either
    neither can could would should will shall may might must let lets s same other another
    """.split()
)

# Verbs and fillers that link words of a question without naming anything.
FILLERS = frozenset(
    """
    live lives lived living use uses used using belong belongs belonged contain contains
    contained include includes included appear appears appeared exist exists existed
    make makes made sell sells sold buy buys bought purchase purchases purchased place
    placed issue issued issues record recorded recorded register registered work works
    worked located locate based come comes came go goes went take takes took play plays
    played feature features featured write writes wrote written sing sings sang record
    see look want know need like whole entire overall altogether database table tables
    data record records row rows entry entries value values item items still currently now
    yet ever already opened charged cause caused
    """.split()
)

# Words in any script ("São Paulo", "Köhler"); AC/DC and O'Brien stay one word.
_WORD = re.compile(r"[^\W_]+(?:[/&'.\-][^\W_]+)*")
_QUOTED = re.compile(r"'([^']+)'|\"([^\"]+)\"|“([^”]+)”|‘([^’]+)’")


@dataclasses.dataclass(frozen=True)
class Token:
    text: str  # as written
    norm: str  # lower case, singular
    start: int  # character offsets in the question
    end: int
    capitalized: bool = False
    quoted: bool = False

    @property
    def lower(self) -> str:
        return self.text.lower()


def tokenize(question: str) -> list[Token]:
    """Words of the question; a quoted phrase is one token."""
    tokens: list[Token] = []
    taken: list[tuple[int, int]] = []
    for m in _QUOTED.finditer(question):
        inner = next(g for g in m.groups() if g is not None)
        tokens.append(Token(inner, inner.lower(), m.start(), m.end(), quoted=True))
        taken.append((m.start(), m.end()))
    for m in _WORD.finditer(question):
        if any(a <= m.start() < b for a, b in taken):
            continue
        text = m.group(0)
        tokens.append(
            Token(
                text=text,
                norm=singular(text.lower().replace("-", "")),
                start=m.start(),
                end=m.end(),
                capitalized=text[0].isupper() or (len(text) > 1 and text.isupper()),
            )
        )
    tokens.sort(key=lambda t: t.start)
    return tokens


@dataclasses.dataclass(frozen=True)
class Element:
    kind: str  # "table" or "column"
    table: str
    column: str | None = None

    def __str__(self) -> str:
        return self.table if self.column is None else f"{self.table}.{self.column}"


@dataclasses.dataclass(frozen=True)
class Candidate:
    element: Element
    score: float
    source: str  # "name", "expanded", "table+column", "head", "glossary"


@dataclasses.dataclass
class Mention:
    """A span of tokens [start, end) and what it may name."""

    start: int
    end: int
    kind: str  # "schema" or "value"
    candidates: list[Candidate] = dataclasses.field(default_factory=list)
    values: list[ValueHit] = dataclasses.field(default_factory=list)
    source: str = ""  # "glossary" for words the glossary says stand for a value

    @property
    def best_score(self) -> float:
        return max((c.score for c in self.candidates), default=0.0)

    def tables(self) -> list[Candidate]:
        return [c for c in self.candidates if c.element.kind == "table"]

    def columns(self) -> list[Candidate]:
        return [c for c in self.candidates if c.element.kind == "column"]


def _phrase(words: list[str]) -> tuple[str, ...]:
    out: list[str] = []
    for w in words:
        out.extend(singular(p) for p in re.findall(r"[a-z0-9]+", w.lower().replace("-", "")))
    return tuple(out)


def _expanded(words: list[str]) -> tuple[str, ...]:
    return _phrase([expand(w) for w in words])


class Lexicon:
    """Phrases that name schema elements, looked up by token sequence."""

    def __init__(self) -> None:
        self.entries: dict[tuple[str, ...], dict[Element, Candidate]] = defaultdict(dict)
        self.values: dict[tuple[str, ...], list[ValueHit]] = {}
        self.max_len = 1
        self.words: set[str] = set()
        self._one_word: list[str] | None = None

    def add(self, phrase: tuple[str, ...], element: Element, score: float, source: str) -> None:
        if not phrase or phrase == ("id",):
            return
        existing = self.entries[phrase].get(element)
        if existing is None or existing.score < score:
            self.entries[phrase][element] = Candidate(element, score, source)
        self.max_len = max(self.max_len, len(phrase))
        self.words.update(phrase)
        self._one_word = None

    @property
    def one_word_names(self) -> list[str]:
        """The phrases of a single word, kept once built: typos are matched against them."""
        if self._one_word is None:
            self._one_word = [phrase[0] for phrase in self.entries if len(phrase) == 1]
        return self._one_word

    def lookup(self, phrase: tuple[str, ...]) -> list[Candidate]:
        return sorted(self.entries.get(phrase, {}).values(), key=lambda c: -c.score)

    def add_value(self, phrase: tuple[str, ...], hit: ValueHit) -> None:
        """Words that stand for a stored value (a glossary synonym, a code's meaning)."""
        if phrase and hit not in self.values.get(phrase, []):
            self.values.setdefault(phrase, []).append(hit)
            self.max_len = max(self.max_len, len(phrase))

    def lookup_value(self, phrase: tuple[str, ...]) -> list[ValueHit]:
        return list(self.values.get(phrase, ()))


# Words that end a meaning's name of an identifier: "trouble ticket identifier".
_IDENTIFIER_WORDS = ("identifier", "id", "number", "key")
# A meaning names its column first, then explains: "circuit status: ACTV active, ...".
_HEAD_END = re.compile(r"[:;(]|,|\s[-–]\s")
# "ACTV active" / "Y when the invoice is paid": a stored code, then what it stands for.
_CODE_ITEM = re.compile(r"^\s*([A-Za-z0-9_]{1,12})\s+(?:=\s*)?(.+?)\s*$")


_UNIT_CUT = ("in", "as", "per", "from")
# Last words of an identifier that give a measure's unit, not what it measures: "mrc"
# alone names mrc_amt. Names and dates are left out: "last" is not LastName.
_UNIT_WORDS = frozenset("amt amount qty pct hrs".split())
_GENERIC_TAILS = ("code", "type", "name", "number", "flag", "identifier", "id", "kind", "class")


def _words(text: str) -> list[str]:
    """Words of a meaning; "one-time" stays one word, as the tokenizer keeps it."""
    return [w.replace("-", "") for w in re.findall(r"[a-z0-9]+(?:-[a-z0-9]+)*", text.lower())]


def _add_phrases(
    lexicon: Lexicon, words: list[str], element: Element, full: float, part: float
) -> None:
    """The phrase, and its runs of two or more words that neither start nor end on a
    stopword ("time to repair" within "time to repair in hours")."""
    lexicon.add(_phrase(words), element, full, "glossary")
    for size in range(2, len(words)):
        for i in range(len(words) - size + 1):
            run = words[i : i + size]
            if run[0] in STOPWORDS or run[-1] in STOPWORDS:
                continue
            lexicon.add(_phrase(run), element, part, "glossary")


def _add_meaning(
    lexicon: Lexicon, table, column: str, meaning: str, values: ValueIndex | None
) -> None:
    element = Element("column", table.name, column)
    head, _, rest = meaning.partition(":") if ":" in meaning else (meaning, "", "")
    head_words = _words(_HEAD_END.split(head, maxsplit=1)[0])
    table_words = set(_phrase(split_identifier(table.name)))
    if head_words and not (len(head_words) == 1 and _phrase(head_words)[0] in table_words):
        _add_phrases(lexicon, head_words, element, 1.1, 0.8)
    # "bandwidth in megabits per second": the words before the unit name the column too.
    for cut in _UNIT_CUT:
        if cut in head_words[1:]:
            shorter = head_words[: head_words.index(cut)]
            if shorter and not (len(shorter) == 1 and _phrase(shorter)[0] in table_words):
                lexicon.add(_phrase(shorter), element, 1.0, "glossary")
            break
    # "product code": the thing the code stands for names the column, more weakly
    # (but "site name" does not make "site" a column of sites).
    if (
        len(head_words) == 2
        and head_words[1] in _GENERIC_TAILS
        and head_words[0] not in STOPWORDS
        and _phrase(head_words[:1])[0] not in table_words
        and not (len(table.primary_key) == 1 and table.primary_key[0] == column)
    ):
        lexicon.add(_phrase(head_words[:1]), element, 0.9, "glossary")
    _add_phrases(lexicon, _words(meaning), element, 1.0, 0.7)
    if (
        len(table.primary_key) == 1
        and table.primary_key[0] == column
        and len(head_words) > 1
        and head_words[-1] in _IDENTIFIER_WORDS
    ):
        # "trouble ticket identifier" on the key: "trouble ticket" names the table.
        lexicon.add(_phrase(head_words[:-1]), Element("table", table.name), 1.0, "glossary")
    if values is None or not rest:
        return
    stored = {v.lower(): v for v, _ in values.top_values(table.name, column, 200)}
    for item in re.split(r"[,;]", rest):
        match = _CODE_ITEM.match(item)
        if match and match.group(1).lower() in stored:
            said = _words(re.sub(r"\b(when|while|if)\b.*$", "", match.group(2)))
            if said:
                lexicon.add_value(
                    _phrase(said),
                    ValueHit(table.name, column, stored[match.group(1).lower()], 0, 0),
                )


def _add_run_together(lexicon: Lexicon, phrase: tuple[str, ...], element: Element) -> None:
    """ "unitprice" and "mediatype", as people type UnitPrice and MediaType."""
    if len(phrase) > 1 and phrase[-1] != "id":
        lexicon.add(("".join(phrase),), element, 0.95, "run together")


def build_lexicon(
    schema: Schema, glossary: Glossary | None = None, values: ValueIndex | None = None
) -> Lexicon:
    lexicon = Lexicon()
    glossary = glossary or Glossary()
    for table in schema.main_tables:
        t_words = split_identifier(table.name)
        t_el = Element("table", table.name)
        lexicon.add(_phrase(t_words), t_el, 1.0, "name")
        _add_run_together(lexicon, _phrase(t_words), t_el)
        lexicon.add(_expanded(t_words), t_el, 1.0, "expanded")
        table_phrase = _phrase(t_words)
        for column in table.columns:
            c_words = split_identifier(column.name)
            c_el = Element("column", table.name, column.name)
            own = _phrase(c_words)
            lexicon.add(own, c_el, 1.0, "name")
            _add_run_together(lexicon, own, c_el)
            lexicon.add(_expanded(c_words), c_el, 1.0, "expanded")
            if own[: len(table_phrase)] != table_phrase:
                lexicon.add(table_phrase + own, c_el, 1.2, "table+column")
                lexicon.add(table_phrase + _expanded(c_words), c_el, 1.2, "table+column")
            elif len(own) > len(table_phrase):
                rest = own[len(table_phrase) :]
                if rest != ("id",):
                    lexicon.add(rest, c_el, 0.8, "name")
            if len(own) > 1 and own[-1] != "id":
                lexicon.add(own[-1:], c_el, 0.5, "head")
            if len(own) == 2 and own[1] in _UNIT_WORDS and own[0] not in STOPWORDS:
                # "mrc" for mrc_amt: the thing measured, its unit word left off
                lexicon.add(own[:1], c_el, 0.5, "head")
            if len(own) == 1 and own[0].endswith("ing") and len(own[0]) > 5:
                # "films rated PG": the verb of a column named as an activity (rating)
                lexicon.add((own[0][:-3] + "ed",), c_el, 0.9, "verb")
            expanded = _expanded(c_words)
            if len(expanded) > 1 and expanded[-1] not in ("id", "identifier"):
                lexicon.add(expanded[-1:], c_el, 0.5, "head")
            meaning = glossary.meaning(table.name, column.name)
            if meaning:
                _add_meaning(lexicon, table, column.name, meaning, values)
    for synonym in glossary.synonyms:
        table = schema.table(synonym.table)
        if table is not None:
            lexicon.add_value(
                _phrase(synonym.synonym.split()),
                ValueHit(table.name, synonym.column, synonym.value, 0, 0),
            )
    return lexicon


@dataclasses.dataclass
class Linking:
    question: str
    tokens: list[Token]
    mentions: list[Mention]

    def mention_at(self, index: int) -> Mention | None:
        for m in self.mentions:
            if m.start <= index < m.end:
                return m
        return None

    def covered(self) -> set[int]:
        return {i for m in self.mentions for i in range(m.start, m.end)}


def _schema_mentions(tokens: list[Token], lexicon: Lexicon, blocked: set[int]) -> list[Mention]:
    found: list[Mention] = []
    norms = [t.norm for t in tokens]
    for size in range(min(lexicon.max_len, len(tokens)), 0, -1):
        for i in range(len(tokens) - size + 1):
            span = set(range(i, i + size))
            if span & blocked or any(tokens[j].quoted for j in span):
                continue
            phrase = tuple(norms[i : i + size])
            if size == 1 and phrase[0] in STOPWORDS:
                continue
            candidates = lexicon.lookup(phrase)
            if candidates:
                found.append(Mention(i, i + size, "schema", candidates))
    return found


TYPO_MIN_LENGTH = 5  # shorter words are too often another real word one letter away
TYPO_PENALTY = 0.8


def _slips_allowed(word: str) -> int:
    """Edits (a letter left out, added, changed, or two swapped) a word may be off by."""
    return 1 if len(word) < 8 else 2


def _misspelled_mentions(
    tokens: list[Token], lexicon: Lexicon, blocked: set[int], mentions: list[Mention]
) -> list[Mention]:
    """A word no phrase or value covers, one slip from a one-word schema name
    ("custmers", "contry"), read as that name at a lower score."""
    covered = {i for m in mentions for i in range(m.start, m.end)} | blocked
    names = lexicon.one_word_names
    found = []
    for i, token in enumerate(tokens):
        word = token.norm
        if (
            i in covered
            or token.quoted
            or len(word) < TYPO_MIN_LENGTH
            or not word.isalpha()
            or word in STOPWORDS
            or word in FILLERS
            or word in lexicon.words
        ):
            continue
        best = process.extractOne(
            word, names, scorer=OSA.distance, score_cutoff=_slips_allowed(word)
        )
        if best is None or best[0][0] != word[0]:
            continue
        candidates = [
            Candidate(c.element, c.score * TYPO_PENALTY, f"typo of {best[0]}")
            for c in lexicon.lookup((best[0],))
        ]
        found.append(Mention(i, i + 1, "schema", candidates, source="typo"))
    return found


def _value_mentions(
    tokens: list[Token],
    values: ValueIndex | None,
    blocked: set[int],
    lexicon: Lexicon,
    question: str = "",
) -> list[Mention]:
    found: list[Mention] = []
    if lexicon.values:
        norms = [t.norm for t in tokens]
        for size in range(min(lexicon.max_len, len(tokens)), 0, -1):
            for i in range(len(tokens) - size + 1):
                if set(range(i, i + size)) & blocked:
                    continue
                hits = lexicon.lookup_value(tuple(norms[i : i + size]))
                if hits:
                    found.append(Mention(i, i + size, "value", values=hits, source="glossary"))
    if values is None:
        return found
    for size in range(min(6, len(tokens)), 0, -1):
        for i in range(len(tokens) - size + 1):
            span = list(range(i, i + size))
            if set(span) & blocked:
                continue
            words = tokens[i : i + size]
            if all(t.lower in STOPWORDS or t.lower in FILLERS for t in words):
                continue
            if (
                size == 1
                and not words[0].quoted
                and (words[0].lower in STOPWORDS or words[0].text.isdigit())
            ):
                continue
            text = words[0].text if size == 1 else _span_text(tokens, i, i + size, question)
            hits = values.lookup(text)
            if not hits and size > 1:
                hits = values.lookup(_span_text(tokens, i, i + size))
            if hits:
                found.append(Mention(i, i + size, "value", values=hits))
    return found


def _span_text(tokens: list[Token], start: int, end: int, question: str = "") -> str:
    """The words as the question writes them ("Guns N' Roses"), else joined by spaces."""
    if question:
        return question[tokens[start].start : tokens[end - 1].end]
    return " ".join(t.text for t in tokens[start:end])


def strong_value(tokens: list[Token], mention: Mention) -> bool:
    """A value mention that should win over a schema reading of the same words."""
    words = tokens[mention.start : mention.end]
    if any(t.quoted for t in words):
        return True
    return any(t.capitalized for t in words if t.start > 0) or any(
        not t.text.isalpha() for t in words
    )


def _choose(tokens: list[Token], mentions: list[Mention], lexicon: Lexicon) -> list[Mention]:
    """Non-overlapping mentions: longer first; values beat weak schema readings."""

    def rank(m: Mention) -> tuple:
        length = m.end - m.start
        if m.kind == "value":
            schema_word = all(t.norm in lexicon.words for t in tokens[m.start : m.end])
            strong = m.source == "glossary" or strong_value(tokens, m)
            weight = 2.0 if strong else (0.4 if schema_word else 0.9)
        else:
            weight = m.best_score
        return (-length, -weight)

    chosen: list[Mention] = []
    used: set[int] = set()
    for m in sorted(mentions, key=rank):
        span = set(range(m.start, m.end))
        if span & used:
            continue
        chosen.append(m)
        used |= span
    return sorted(chosen, key=lambda m: m.start)


def link(
    question: str,
    lexicon: Lexicon,
    values: ValueIndex | None = None,
    *,
    blocked: set[int] | None = None,
    tokens: list[Token] | None = None,
) -> Linking:
    """Find the mentions in `question`; tokens in `blocked` are left alone."""
    tokens = tokens if tokens is not None else tokenize(question)
    blocked = blocked or set()
    mentions = _schema_mentions(tokens, lexicon, blocked) + _value_mentions(
        tokens, values, blocked, lexicon, question
    )
    mentions += _misspelled_mentions(tokens, lexicon, blocked, mentions)
    chosen = _choose(tokens, mentions, lexicon)
    return Linking(question, tokens, _coordinated(tokens, chosen, lexicon, blocked))


def _coordinated(
    tokens: list[Token], mentions: list[Mention], lexicon: Lexicon, blocked: set[int]
) -> list[Mention]:
    """Read "first and last names" as "first name" and "last name"."""
    taken = {i for m in mentions for i in range(m.start, m.end)} | blocked
    extra: list[Mention] = []
    for m in mentions:
        if m.kind != "schema" or m.end - m.start < 2 or m.start < 2:
            continue
        if tokens[m.start - 1].lower not in ("and", "or", "&") or (m.start - 2) in taken:
            continue
        phrase = (tokens[m.start - 2].norm,) + tuple(t.norm for t in tokens[m.start + 1 : m.end])
        candidates = lexicon.lookup(phrase)
        if candidates:
            extra.append(Mention(m.start - 2, m.start - 1, "schema", candidates))
    return sorted(mentions + extra, key=lambda m: m.start)
