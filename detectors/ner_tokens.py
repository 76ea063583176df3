"""The tokens our NER model reads: one per CJK character, one per Latin word or number.

    >>> words("张三去了Beijing, 2024年")
    ['张', '三', '去', '了', 'Beijing', ',', '2024', '年']

Chinese has no spaces, and a word segmenter (jieba, pkuseg) cuts names apart or glues
them to the next word (``王小明说`` -> ``王小`` ``明说``); characters are what Chinese NER
corpora label. English words stay whole so capitalisation and suffixes are features.
One tokenizer for both scripts lets one small model read mixed text in one pass.

Registered with spaCy as ``baomi.ner_tokens.v1`` (the shipped pipeline's config names
it), so this module must be imported before ``spacy.load`` of that pipeline: the
training recipe and ``detectors.nlp`` both do.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import spacy
from spacy.tokens import Doc
from spacy.vocab import Vocab

# Latin words, digit runs, any other non-space character alone (a CJK character, a
# punctuation mark, an apostrophe: "Ann's" is Ann + ' + s, so the name is a whole token).
TOKEN = re.compile(r"[A-Za-z\u00c0-\u024f]+|[0-9]+|\S")


def words(text: str) -> list[str]:
    """The token strings of ``text`` (see module docstring)."""
    return TOKEN.findall(text)


class NerTokenizer:
    """``text`` -> ``Doc`` with ``words``' tokens; whitespace kept so offsets match the text."""

    def __init__(self, vocab: Vocab) -> None:
        self.vocab = vocab

    def __call__(self, text: str) -> Doc:
        tokens: list[str] = []
        spaces: list[bool] = []
        at = 0
        for match in TOKEN.finditer(text):
            _gap(text[at : match.start()], tokens, spaces)
            tokens.append(match.group(0))
            spaces.append(False)
            at = match.end()
        _gap(text[at:], tokens, spaces)
        return Doc(self.vocab, words=tokens, spaces=spaces)

    def pipe(self, texts: Any, batch_size: int = 1000) -> Any:
        for text in texts:
            yield self(text)

    # Nothing to save: the rules are this module. spaCy calls these on to_disk/from_disk.
    def to_disk(self, path: str | Path, **_kwargs: Any) -> None:
        return None

    def from_disk(self, path: str | Path, **_kwargs: Any) -> NerTokenizer:
        return self

    def to_bytes(self, **_kwargs: Any) -> bytes:
        return b""

    def from_bytes(self, data: bytes, **_kwargs: Any) -> NerTokenizer:
        return self


def _gap(gap: str, tokens: list[str], spaces: list[bool]) -> None:
    """Whitespace between tokens: one space is the previous token's trailing space,
    anything else becomes a whitespace token (spaCy's convention)."""
    if not gap:
        return
    if tokens and gap[0] == " ":
        spaces[-1] = True
        gap = gap[1:]
    if gap:
        tokens.append(gap)
        spaces.append(False)


@spacy.registry.tokenizers("baomi.ner_tokens.v1")
def create_tokenizer():
    def create(nlp: Any) -> NerTokenizer:
        return NerTokenizer(nlp.vocab)

    return create
