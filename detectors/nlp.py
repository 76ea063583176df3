"""A light Presidio ``NlpEngine``: regex tokens, ``lemma = lower``, a spaCy NER model.

    >>> TokenNlpEngine().process_text("手机号：13800138000 Mobile", "en").lemmas
    ['手机号', '13800138000', 'mobile']

Presidio's context enhancer looks for its context words *inside* the lemmas
of the few tokens before a match. A CJK run is one token, so "请拨打我的手机"
still contains 手机 and lifts the score; no segmenter or model is needed. A
blank spaCy pipeline would give empty lemmas and silently disable context.

Tokens are plain strings: the enhancer only needs their length and order,
and building a spaCy ``Doc`` per request would cost more than the rest.

PERSON in free text comes from a NER model: by default the one baomi ships
(``detectors/models/ner``, trained by ``make model``, see detectors/training/),
or the admin's spaCy pipeline (``DetectorConfig.nlp_model``, a name or a
directory). Either is loaded from disk, never downloaded. The engine runs it
only on the texts ``prime`` is given (the detector's prose windows), in one
``nlp.pipe`` batch per request.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from presidio_analyzer.nlp_engine import NlpArtifacts, NlpEngine

from detectors import ner_tokens  # noqa: F401 - registers the shipped model's tokenizer
from detectors.en_names import en_names, list_mates, model_guess, repeated_parts
from detectors.model_names import (  # noqa: F401 - NER_SCORE, ner_score: the engine's names
    CJK,
    CN_TITLE,
    NER_SCORE,
    WEAK_NER_SCORE,
    chinese_name_shaped,
    ner_score,
    span_score,
    title_after,
)
from detectors.recognizers.base import LANGUAGE
from detectors.recognizers.person import name_on_words

TOKEN = re.compile(r"[A-Za-z]+|[0-9]+|[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "to",
        "in",
        "on",
        "at",
        "by",
        "for",
        "with",
        "from",
        "and",
        "or",
        "is",
        "are",
        "was",
        "be",
        "it",
        "this",
        "that",
        "my",
        "your",
        "our",
        "的",
        "了",
        "和",
        "是",
        "在",
    ]
)
NER_LABELS = frozenset({"PERSON", "PER"})
SHIPPED = Path(__file__).parent / "models" / "ner"
MANIFEST = "SHA256SUMS"  # written by the training recipe next to the pipeline's files
# A title before an English name or inside/after a Chinese one is not part of it
# ("Mr. Smith" -> Smith, 张总 -> 张, 张总经 (the model cut 总经理 apart) -> 张: model_names.CN_TITLE).
EN_TITLE_START = re.compile(r"(Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Sir|Madam)\.?\s+")
# Between the parts of a transliterated name (约翰·史密斯), CJK on both sides: not "幸福···".
FOREIGN_NAME = re.compile("[\u4e00-\u9fff]+(?:[·•][\u4e00-\u9fff]+)+")


@dataclass(frozen=True, slots=True)
class NerSpan:
    """What Presidio's ``SpacyRecognizer`` reads of an entity (a ``Span`` is not needed)."""

    label_: str
    start_char: int
    end_char: int


def load_ner(model: str | None):
    """The admin's pipeline (a name or directory) or, for None, the shipped model.

    Never downloads. A missing or damaged model raises ``OSError`` whose message names
    the model and what to do (the worker pool shows it when start-up fails).
    """
    import spacy

    if model is not None:
        try:
            return spacy.load(model, exclude=["lemmatizer", "parser", "tagger", "attribute_ruler"])
        except OSError:
            raise
        except Exception as error:  # noqa: BLE001 - any failure to load is the admin's to fix
            raise OSError(f"NER model {model!r} cannot be loaded: {_why(error)}") from None
    try:
        _verify(SHIPPED)
        return spacy.load(SHIPPED)
    except Exception as error:  # noqa: BLE001 - fail closed with a message that says what to do
        raise OSError(
            f"baomi's NER model ({SHIPPED}) is missing or damaged: {_why(error)}; "
            "reinstall baomi or rebuild it with `make model`"
        ) from None


def _why(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:200] if str(error) else type(error).__name__


def _verify(path: Path) -> None:
    """The recipe's SHA256SUMS lists exactly the model's files, and each matches (a
    truncated, altered or added file would otherwise load and guess silently worse; an
    emptied manifest would check nothing)."""
    listed: dict[str, str] = {}
    for line in (path / MANIFEST).read_text(encoding="utf-8").splitlines():
        digest, _, name = line.partition("  ")
        listed[name] = digest
    present = {p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()} - {MANIFEST}
    if not listed or set(listed) != present:
        unlisted, missing = sorted(present - set(listed)), sorted(set(listed) - present)
        raise ValueError(
            f"{MANIFEST} does not list the model's files (unlisted: {unlisted[:3]}, "
            f"missing: {missing[:3]})"
        )
    for name, digest in listed.items():
        if hashlib.sha256((path / name).read_bytes()).hexdigest() != digest:
            raise ValueError(f"{name} does not match {MANIFEST}")


class TokenNlpEngine(NlpEngine):
    """See module docstring. ``ner``: a loaded spaCy ``Language`` or None."""

    def __init__(self, ner: Any = None) -> None:  # a spacy Language; spaCy imported lazily
        self.ner = ner
        self.primed: dict[str, list[NerSpan]] = {}
        # After a prime, the model reads nothing else (the request's NER budget was spent on
        # what was primed); before any, ``people`` runs it on whatever it is given.
        self.primed_only = False

    def load(self) -> None:
        return None

    def is_loaded(self) -> bool:
        return True

    def prime(self, texts: Iterable[str]) -> None:
        """Run the model over ``texts`` in one batch; ``process_text`` then reads the results.
        Replaces what an earlier call primed (one request at a time)."""
        unique = list(dict.fromkeys(texts))
        self.primed = {}
        self.primed_only = True
        if self.ner is None or not unique:
            return
        for text, doc in zip(unique, self.ner.pipe(unique), strict=True):
            self.primed[text] = people(doc)

    def has_read(self, text: str) -> bool:
        """Will ``people(text)`` use the model (primed, or not in primed-only mode)?"""
        return self.ner is not None and (text in self.primed or not self.primed_only)

    def process_text(self, text: str, language: str) -> NlpArtifacts:
        tokens, starts = [], []
        for match in TOKEN.finditer(text):
            tokens.append(match.group(0))
            starts.append(match.start())
        guesses = self.people(text)
        return NlpArtifacts(
            entities=[span for span, _ in guesses],  # type: ignore[misc]  # duck-typed, see NerSpan
            tokens=tokens,  # type: ignore[arg-type]  # see module docstring
            tokens_indices=starts,
            lemmas=[token.lower() for token in tokens],
            nlp_engine=self,
            language=language,
            scores=[score for _, score in guesses],
        )

    def people(self, text: str) -> list[tuple[NerSpan, float]]:
        """PERSON spans the model sees in ``text`` (primed, or run now), with their scores."""
        if self.ner is None:
            return []
        found = self.primed.get(text)
        if found is None:
            if self.primed_only:
                return []  # not read by the model: rules only (over the request's budget)
            found = people(self.ner(text))
        scored = [(span, span_score(text, span.start_char, span.end_char)) for span in found]
        return [(span, score) for span, score in scored if score is not None]

    def process_batch(
        self, texts: Iterable[str], language: str, batch_size: int = 1, n_process: int = 1, **kwargs
    ) -> Iterator[tuple[str, NlpArtifacts]]:
        for text in texts:
            yield text, self.process_text(text, language)

    def is_stopword(self, word: str, language: str) -> bool:
        return word in STOPWORDS

    def is_punct(self, word: str, language: str) -> bool:
        return False  # punctuation never becomes a token

    def get_supported_entities(self) -> list[str]:
        return ["PERSON"] if self.ner is not None else []

    def get_supported_languages(self) -> list[str]:
        return [LANGUAGE]


def people(doc: Any) -> list[NerSpan]:
    """A spaCy ``Doc``'s PERSON (or PER) entities, without spaces or titles; a Chinese one
    only where it starts and ends on jieba's word boundaries (曹家 in 曹家渡 is no name)."""
    found = []
    text = doc.text
    places = [(e.start_char, e.end_char) for e in doc.ents if e.label_ == "LOC"]
    for entity in doc.ents:
        if entity.label_ not in NER_LABELS:
            continue
        start, end = _without_titles(text, entity.start_char, entity.end_char)
        # A transliterated name (马克斯·沃夫) is marked by its dot, not by jieba's words.
        foreign = FOREIGN_NAME.fullmatch(text, start, end) is not None
        if start < end and CJK.match(text[start]) and not foreign:
            start, end = name_on_words(text, start, end)  # 周恩|来 -> 周恩来 (N2's rule)
            if start == end or not chinese_name_shaped(text, start, end):
                continue
            # jieba's word may hold the title again (李经理, 陈老师 are one word): cut it
            # (the word was checked whole: 邵氏|电影公司 is a company's name).
            start, end = _without_titles(text, start, end)
        elif start < end and not foreign and (span := model_guess(text, start, end, places)):
            start, end = span  # Colonel Jesse Auton -> Jesse Auton
        elif not foreign:
            continue  # a headline (Judge Rejects Appeal), a kind of thing (Dell Inspiron laptops are)
        if start < end:
            found.append(NerSpan("PERSON", start, end))
    for start, end in en_names(text, places):  # names by their shape the model missed (en_names.py)
        if not any(s.start_char < end and start < s.end_char for s in found):
            found.append(NerSpan("PERSON", start, end))
    spans = [(s.start_char, s.end_char) for s in found]
    found += [NerSpan("PERSON", a, b) for a, b in repeated_parts(text, spans)]  # Hoyt ... Hoyt
    spans = [(s.start_char, s.end_char) for s in found if not CJK.match(text[s.start_char])]
    found += [NerSpan("PERSON", a, b) for a, b in list_mates(text, spans)]  # A, B and C
    return found


def _without_titles(text: str, start: int, end: int) -> tuple[int, int]:
    """``(start, end)`` without spaces around, an English title before, a Chinese one inside.

    >>> _without_titles("ask Mr. Smith", 4, 13), _without_titles("张总经理说", 0, 3)
    ((8, 13), (0, 1))
    >>> _without_titles("高老板告诉记者", 0, 3), _without_titles("胡老心中", 0, 2), _without_titles("王家卫", 0, 3)
    ((0, 1), (0, 1), (0, 3))
    """
    span = text[start:end]
    start += len(span) - len(span.lstrip())
    end -= len(span) - len(span.rstrip())
    if (title := EN_TITLE_START.match(text, start, end)) is not None:
        start = title.end()
    if (title := CN_TITLE.search(text, start + 1, end + 3)) is not None and title.start() < end:
        end = title.start()
    elif title_after(text, start, end - 1):
        end -= 1  # a one-character honorific ends the guess: 林老, 杨叔, 刘某 -> the surname
    return start, end
