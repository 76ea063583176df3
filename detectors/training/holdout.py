"""The tuning set's sentences the model must never train on (bench/quality/tune.py).

bench/quality's tuning set (``score.py --real --split tune``) holds two kinds of text from
corpora the recipe can read: the held-out 1/``HOLD_OUT`` slices (train.py keeps them out by
index) and whole samples: ``SAMPLE`` (a seeded draw of MultiCoNER II Chinese train, the file
``train.py --more-data`` trains on; tune.py draws it with ``draw`` too) and WikiGold (never
trained on: not in ``corpora.MORE``). ``excluded`` gives, for a source's sentences, the keys
the recipe must not train on (nor swap names from):

    found = list(corpora.sentences(source, root))
    skip = excluded(source, [text for text, _ in found])   # empty for the other sources
    [text for text, _ in found if key(text) not in skip]

Sentences are compared by ``key`` (bench/quality/seen.py's rule: NFKC, lower-case, letters
and digits only), so a repeat of a tuning sentence with other spacing or punctuation is
kept out too (MultiCoNER repeats 567 of its 9,759 sentences). A sentence of another source
that equals a tuning one is trained on; bench/quality/seen.py then drops it from the tuning
set (as for every trained sentence).
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Sequence

from detectors.training import corpora

# (tune.py's source name, the corpus, sentences drawn): the draw is random.Random(name).
SAMPLE = ("multiconer_tune", corpora.MULTICONER_ZH, 2200)
WHOLE = (corpora.WIKIGOLD,)  # tuning text in full, never trained on


def key(text: str) -> str:
    """The sentence as compared (seen.key): NFKC, lower-case, letters and digits only.

    >>> key("Ｆｉｇｕｒｅ 1.") == key("figure1") == "figure1"
    True
    """
    return "".join(c for c in unicodedata.normalize("NFKC", text).lower() if c.isalnum())


def draw(texts: Sequence[str], name: str, limit: int) -> list[int]:
    """Indices of ``texts`` in a seeded sample (``random.Random(name)``) of ``limit``
    distinct sentences (by ``key``; a repeat and a sentence with no letter are never
    drawn); all of them when ``limit`` is 0 or not below their number.

    >>> draw(["a", "A!", ":)", "b", "c"], "x", 0)
    [0, 3, 4]
    >>> draw(["a", "b", "c", "d"], "x", 2) == draw(["a", "b", "c", "d"], "x", 2)
    True
    """
    distinct, drawn = [], set()
    for index, text in enumerate(texts):
        if (k := key(text)) and k not in drawn:
            drawn.add(k)
            distinct.append(index)
    if not 0 < limit < len(distinct):
        return distinct
    rng = random.Random(name)  # noqa: S311 -- a reproducible sample, not a secret
    return [distinct[i] for i in sorted(rng.sample(range(len(distinct)), limit))]


def excluded(source: object, texts: Sequence[str]) -> frozenset[str]:
    """Keys of ``source``'s sentences (``texts``, all of them, in the file's order) that are
    tuning text: ``SAMPLE``'s draw for its corpus, every one for a ``WHOLE`` corpus.

    >>> excluded(corpora.WEIBO, ["张三说"]), excluded(corpora.WIKIGOLD, ["Ann said", ":)"])
    (frozenset(), frozenset({'annsaid'}))
    """
    name, corpus, limit = SAMPLE
    if source == corpus:
        return frozenset(key(texts[i]) for i in draw(texts, name, limit))
    return frozenset(k for k in map(key, texts) if k) if source in WHOLE else frozenset()
