"""Sentences the shipped NER model saw: an evaluation sentence among them is not held out.

    trained = training_keys(Path("/work/.mirror"))      # every sentence of its TRAIN splits
    [row for row in rows if key(row["text"]) not in trained]

Sentences are compared by ``key``: NFKC, lower-case, letters and digits only, so a
repost with other spacing, punctuation or full-width characters is the same sentence.
The TRAIN splits are read by the training recipe's own readers (``corpora.SOURCES`` and
GUM's train documents), never a copy of them.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import Path

from detectors.training import corpora, train


def key(text: str) -> str:
    """The sentence as compared: NFKC, lower-case, letters and digits only.

    >>> key("Ｆｉｇｕｒｅ 1.") == key("figure1") == "figure1"
    True
    >>> key("张三，你好！")
    '张三你好'
    """
    return "".join(c for c in unicodedata.normalize("NFKC", text).lower() if c.isalnum())


def keys(texts: Iterable[str]) -> frozenset[str]:
    """Keys of ``texts``; a text with no letter or digit (``:)``) has none: it holds no name.

    >>> sorted(keys(["Hi!", ":)", "hi"]))
    ['hi']
    """
    return frozenset(k for k in map(key, texts) if k)


def recipe_sentences(
    root: Path,
) -> Iterator[tuple[list[tuple[str, list[corpora.Span]]], frozenset[str]]]:
    """Each TRAIN split the shipped model reads, as the recipe reads it (one list each),
    with the keys of its tuning sentences the recipe does not train on (``train.recipe_read``)."""
    for source in (*corpora.SOURCES, corpora.GUM):
        yield train.recipe_read(source, root)


def training_keys(root: Path, held_out_too: bool = True) -> frozenset[str]:
    """Keys of every sentence of the model's TRAIN splits; ``held_out_too=False``: only of
    the part it trains on (not the 1/``HOLD_OUT`` that ``train._add`` keeps out, nor the
    tuning sample ``holdout.excluded`` keeps out: ``train.trained``)."""
    return keys(
        text
        for found, skip in recipe_sentences(root)
        for index, (text, _) in enumerate(found)
        if held_out_too or train.trained(index, text, skip)
    )
