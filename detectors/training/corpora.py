"""The labelled corpora the shipped NER model learns from: TRAIN SPLITS ONLY.

Each source is a file in a public git repository at a recorded commit (SOURCES.md).
``sentences(source, root)`` reads it from a local copy under ``root``: a work tree
(``git clone`` into ``root/owner+name``) or a bare mirror (``root/owner+name/repo``),
and yields ``(text, [(start, end, label), ...])`` with our labels:

    >>> list(conll_sentences(["张 B-PER.NAM", "三 I-PER.NAM", "说 O", ""], WEIBO))
    [('张三说', [(0, 2, 'PERSON')])]
    >>> list(conll_sentences(["Meet\\tO", "Ann\\tB-PER", "Lee\\tI-PER"], BTC))
    [('Meet Ann Lee', [(5, 12, 'PERSON')])]
"""

from __future__ import annotations

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
# English tokens written without a space before them (the corpora are pre-tokenized).
ATTACHED = frozenset([".", ",", "!", "?", ";", ":", ")", "'s", "n't", "'re", "'m", "'ll", "'ve", "'d"])
SOURCES = (WEIBO, UNER_ZH, WNUT17, BTC)
DEFAULT_ROOT = Path("/work/.mirror")


def read_lines(source: Source, root: Path) -> list[str]:
    """The file's lines from a work tree or a bare mirror under ``root``."""
    base = root / source.repo.replace("/", "+")
    if (base / source.path).is_file():
        return (base / source.path).read_text(encoding="utf-8").splitlines()
    for git_dir in (base / "repo", base / "repo" / ".git", base / ".git"):
        if (git_dir / "HEAD").is_file():
            shown = subprocess.run(
                ["git", "--git-dir", str(git_dir), "show", f"{source.commit}:{source.path}"],
                capture_output=True,
                check=True,
            )
            return shown.stdout.decode("utf-8").splitlines()
    raise FileNotFoundError(f"{source.repo}: no copy under {base} (see SOURCES.md)")


def sentences(source: Source, root: Path = DEFAULT_ROOT) -> Iterator[tuple[str, list[Span]]]:
    return conll_sentences(read_lines(source, root)[source.lines], source)


def conll_sentences(lines: Iterable[str], source: Source) -> Iterator[tuple[str, list[Span]]]:
    rows: list[tuple[str, str]] = []
    for line in [*lines, ""]:
        if line.startswith("#"):
            continue
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
    return len(text.rstrip(" ")) if source.joiner else len(text)
