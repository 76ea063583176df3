"""The tuning set (``score.py --real --split tune``): the only text the rules may be tuned on.

    texts = tune_texts()                       # [Text(id="weibo_tune-0000", split="tune"), ...]
    texts = tune_texts(Path("/work/.mirror"), sources=("addr_tune",))

Dev and test splits are never for tuning (SOURCES.md). What is left is the part of the NER
model's TRAIN splits that ``detectors/training/train.py`` keeps out of training (every
``HOLD_OUT``-th sentence of each corpus, its checkpoint-selection set: the model has not
learnt from it), read by the training recipe's own readers, plus a seeded sample of the
address corpus's TRAIN split placed in the dev carrier sentences (``textreaders.DEV_FRAMES``),
plus WikiGold whole (``WHOLE``: English Wikipedia, a corpus the model never reads).
Nothing is written anywhere: the sentences are read from the local mirrors on every run
(the address corpus states no licence, so it is never vendored).

A held-out sentence that is also in the part the model trains on (a repost, a stock line
such as ``Figure 1.``), or in any dev or test split scored by ``score.py --real``, is
dropped (``seen_keys``; compared by ``seen.key``): the model learnt the one, and tuning on
the other would tune on evaluation text. Dropped sentences leave gaps in the ids.

Chinese has more (``SAMPLES``: the held-out slices hold only 127 Chinese names): seeded
samples of TRAIN splits of corpora the model never reads (MSRA, CLUENER2020, MultiCoNER II),
about 1,000 names each, in their own ``*_tune`` groups (SOURCES.md says what counts as PERSON).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.quality import seen, vendor
from bench.quality.real import Text
from bench.quality.textreaders import read_gum, spans_of
from detectors.training import corpora, holdout, train

ADDRESS = vendor.Source(
    "addr_tune", "leodotnet/neural-chinese-address-parsing",
    "54cf6bde941a152cc096f54294254fc4ee288fa7", "data/train.txt", "none stated", "tune",
    "zh", False, 1000, "address_dev",
)  # fmt: skip
# source name -> (the recipe's corpus, language); GUM is read document by document.
CORPORA: dict[str, tuple[corpora.Source | corpora.Gum, str]] = {
    "weibo_tune": (corpora.WEIBO, "zh"),
    "gsd_tune": (corpora.UNER_ZH, "zh"),
    "wnut17_tune": (corpora.WNUT17, "en"),
    "btc_tune": (corpora.BTC, "en"),
    "gum_tune": (corpora.GUM, "en"),
    "wikigold_tune": (corpora.WIKIGOLD, "en"),
}
# Corpora the shipped model never reads (not in ``corpora.SOURCES``; detectors/training/
# SOURCES.md): every sentence is held out, not only the 1/``HOLD_OUT`` slice. Never in a
# dev or test group: ``vendor.py`` does not read them.
WHOLE = frozenset({"wikigold_tune"})


@dataclass(frozen=True)
class Sample:
    """A Chinese corpus the shipped model never reads: a seeded sample of its TRAIN split.
    ``read(root)`` gives ``(text, [[PERSON, start, end], ...])`` at the recorded commit."""

    name: str
    repo: str
    commit: str
    path: str
    licence: str
    limit: int  # sentences drawn (0: all), about 1,000 names each
    read: Callable[[Path], list[tuple[str, list]]]


def _show(root: Path, repo: str, commit: str, path: str) -> str:
    return corpora._show(corpora._git_dir(root / repo.replace("/", "+")), commit, path)


def read_msra(sentences: str, tags: str) -> Iterator[tuple[str, list]]:
    r"""MSRA as NER-BERT-pytorch splits it: one sentence a line, characters and their BIO
    tags space-separated in two files; ``PER`` is a person.

    >>> list(read_msra("记 者 王 小 明 报 道\n", "O O B-PER I-PER I-PER O O\n"))
    [('记者王小明报道', [['PERSON', 2, 5]])]
    """
    for chars, labels in zip(sentences.splitlines(), tags.splitlines(), strict=True):
        pairs = list(zip(chars.split(), labels.split(), strict=True))
        yield spans_of(pairs, "", lambda label: "PERSON" if label == "PER" else None)


def read_cluener(text: str) -> Iterator[tuple[str, list]]:
    """CLUENER2020: JSON objects one after another (one a line, or pretty-printed), spans
    ``[first, last]`` inclusive by entity and value; ``name`` is a person.

    >>> list(read_cluener('{"text": "叶老桂博士说", "label": {"name": {"叶老桂": [[0, 2]]},'
    ...                   ' "position": {"博士": [[3, 4]]}}}'))
    [('叶老桂博士说', [['PERSON', 0, 3]])]
    """
    decoder, at = json.JSONDecoder(), 0
    while (at := _skip_space(text, at)) < len(text):
        row, at = decoder.raw_decode(text, at)
        names = row.get("label", {}).get("name", {})
        spans = sorted(["PERSON", a, b + 1] for where in names.values() for a, b in where)
        yield row["text"], spans


def _skip_space(text: str, at: int) -> int:
    while at < len(text) and text[at].isspace():
        at += 1
    return at


MSRA_REPO = ("lemonhu/NER-BERT-pytorch", "5f7577b78020dc5867cc3a4dbb7a2db44bae1fc8")
CLUENER_REPO = ("StanleySun233/ChineseNER", "dc3c5cd2479fc3ef63ceb1c93db9b351508e974f")
SAMPLES = {
    s.name: s
    for s in (
        Sample("msra_tune", *MSRA_REPO, "data/msra/val/{sentences,tags}.txt", "none stated", 0,
               lambda root: list(read_msra(*(_show(root, *MSRA_REPO, f"data/msra/val/{f}.txt")
                                             for f in ("sentences", "tags"))))),
        Sample("cluener_tune", *CLUENER_REPO, "data/cluener/train.json", "none stated", 3000,
               lambda root: list(read_cluener(_show(root, *CLUENER_REPO, "data/cluener/train.json")))),
        Sample("multiconer_tune", corpora.MULTICONER_ZH.repo, corpora.MULTICONER_ZH.commit,
               corpora.MULTICONER_ZH.path, corpora.MULTICONER_ZH.licence, 2200,
               lambda root: [(t, persons(t, s, "zh")) for t, s in corpora.sentences(corpora.MULTICONER_ZH, root)]),
    )
}  # fmt: skip
NAMES = (*CORPORA, *SAMPLES, ADDRESS.name)


def default_root() -> Path:
    """Where the mirrors are: the training recipe's ``BAOMI_NER_CORPORA`` (``/work/.mirror``)."""
    return Path(os.environ.get("BAOMI_NER_CORPORA", corpora.DEFAULT_ROOT))


def held_out(found: Iterable[tuple[str, list]]) -> Iterator[tuple[str, list]]:
    """The sentences ``train._add`` puts into its held-out DocBin instead of training.

    >>> [t for t, _ in held_out((str(i), []) for i in range(45))]
    ['19', '39']
    """
    for index, item in enumerate(found):
        if index % train.HOLD_OUT == train.HOLD_OUT - 1:
            yield item


def persons(text: str, spans: Sequence[tuple[int, int, str]], lang: str = "en") -> list[list]:
    """The recipe's ``(start, end, label)`` -> scored ``[PERSON, start, end]`` (LOC/ORG
    dropped), labelled as the test splits are: in English a Twitter handle (``@ brewdog``;
    BTC tags the ``@`` and the handle) is NEUTRAL (WNUT-17 and EWT label no handles; Weibo
    labels its @names, in its test split too), and a span ends before the punctuation the
    recipe's joiner glued to it (``Phil Jones.``).

    >>> persons("RT @ brewdog: Ann Lee. ok", [(3, 4, "PERSON"), (5, 12, "PERSON"),
    ...                                      (14, 22, "PERSON"), (23, 25, "LOC")])
    [['NEUTRAL', 3, 4], ['NEUTRAL', 5, 12], ['PERSON', 14, 21]]
    """
    out = []
    for start, end, label in spans:
        if label != "PERSON":
            continue
        while end > start + 1 and text[end - 1] in ".,!?:;":
            end -= 1
        handle = lang == "en" and (text[start:end] == "@" or text[:start].rstrip().endswith("@"))
        out.append(["NEUTRAL" if handle else "PERSON", start, end])
    return out


def gum_labels(root: Path) -> dict[str, tuple[str, list]]:
    """GUM's train documents read as the test split is (``read_gum``: mentions with some
    common nouns, ``the astronaut Charles Bolden``, are NEUTRAL, not unlabelled; the
    sentence's own ``# text =`` spacing), by the sentence's text without spaces."""
    git_dir = corpora._git_dir(root / corpora.GUM.repo.replace("/", "+"))
    show = corpora._show
    labels: dict[str, tuple[str, list]] = {}
    for name in corpora._gum_train(show(git_dir, corpora.GUM.commit, "splits.md")):
        if name.split("_")[1] in corpora.GUM.genres:
            document = show(git_dir, corpora.GUM.commit, f"dep/{name}.conllu")
            labels.update((unspaced(text), (text, spans)) for text, spans in read_gum(document))
    return labels


def unspaced(text: str) -> str:
    """The recipe joins GUM's words by its own rule (``Argentina ’s``), the ``# text =`` line
    keeps the original (``Argentina’s``): the same sentence either way without spaces."""
    return "".join(text.split())


def evaluation_keys(root: Path) -> frozenset[str]:
    """Keys of every sentence of the labelled dev and test splits ``vendor`` samples from
    (the whole split, not only the sample: stricter, and the same whatever the limits)."""
    labelled = [s for s in vendor.SOURCES if s.name not in vendor.CLEAN]
    return seen.keys(
        row["text"] for s in labelled for row in vendor.records(s, vendor.Mirror(root, s), 0)
    )


def seen_keys(root: Path) -> frozenset[str]:
    """What a tuning sentence must not be: trained on, or dev/test evaluation text."""
    return seen.training_keys(root, held_out_too=False) | evaluation_keys(root)


def corpus_texts(name: str, root: Path, excluded: frozenset[str] = frozenset()) -> list[Text]:
    source, lang = CORPORA[name]
    if isinstance(source, corpora.Gum):
        found: Iterable = corpora.gum_sentences(source, root)
        gum = gum_labels(root)
    else:
        found, gum = corpora.sentences(source, root), {}
    texts = []
    for n, (text, spans) in enumerate(found if name in WHOLE else held_out(found)):
        if seen.key(text) in excluded:
            continue
        text, labelled = gum.get(unspaced(text), (text, persons(text, spans, lang)))
        texts.append(Text(f"{name}-{n:04d}", name, lang, text, tuple(map(tuple, labelled)), "tune"))
    return texts


def address_texts(root: Path, excluded: frozenset[str] = frozenset()) -> list[Text]:
    """A seeded sample of the address corpus's TRAIN split, each query in a dev frame."""
    rows = vendor.records(ADDRESS, vendor.Mirror(root, ADDRESS), ADDRESS.limit, excluded)
    return [
        Text(r["id"], r["source"], r["lang"], r["text"], tuple(map(tuple, r["spans"])), "tune")
        for r in rows
    ]


def sample_texts(sample: Sample, root: Path, excluded: frozenset[str] = frozenset()) -> list[Text]:
    """A seeded sample (``random.Random(name)``) of the corpus, less sentences in ``excluded``
    (a gap in the ids: the sample and the other ids stay as they were). A sentence the
    corpus repeats is drawn once (MultiCoNER repeats 567 of its 9,759). The draw is the
    training recipe's (``holdout.draw``): ``train.py --more-data`` never trains on it."""
    items = sample.read(root)
    keep = holdout.draw([text for text, _ in items], sample.name, sample.limit)
    texts = []
    for n, i in enumerate(keep):
        text, spans = items[i]
        if seen.key(text) not in excluded:
            texts.append(Text(f"{sample.name}-{n:04d}", sample.name, "zh", text, tuple(map(tuple, spans)), "tune"))  # fmt: skip
    return texts


def tune_texts(root: Path | None = None, sources: Sequence[str] = ()) -> list[Text]:
    """Every tuning sentence of ``sources`` (default: all of ``NAMES``)."""
    root = root or default_root()
    excluded = seen_keys(root)
    texts = []
    for name in [n for n in NAMES if not sources or n in sources]:
        if name == ADDRESS.name:
            texts += address_texts(root, excluded)
        elif name in SAMPLES:
            texts += sample_texts(SAMPLES[name], root, excluded)
        else:
            texts += corpus_texts(name, root, excluded)
    return texts
