"""Train the shipped NER model: ``make model`` (or ``python -m detectors.training.train``).

    python -m detectors.training.train --corpora /work/.mirror --out detectors/models/ner

Reads the train splits listed in corpora.SOURCES from local copies (SOURCES.md says how
to get each at its commit), holds out every 20th sentence of them as the checkpoint-
selection set (no corpus's dev or test split is read), writes spaCy DocBins, runs
``spacy train`` with config.cfg here, and copies the best checkpoint to ``--out``.
Environment: BAOMI_NER_CORPORA stands for ``--corpora``.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import random
import shutil
import sys
import tempfile
import unicodedata
from collections.abc import Sequence
from pathlib import Path

import spacy
from spacy.tokens import DocBin, Span

from detectors import ner_tokens
from detectors.nlp import MANIFEST
from detectors.training import corpora, holdout
from detectors.training.corpora import DEFAULT_ROOT, GUM, MORE, SOURCES
from detectors.training.corpora import Span as CharSpan

HERE = Path(__file__).parent
HOLD_OUT = 20  # every 20th training sentence selects the checkpoint
# The shipped model's licence and attribution (NOTICE): a retrain keeps them, and meta.json
# says the same. CC BY-SA 4.0 because some sources are CC BY-SA (SOURCES.md).
LEGAL_FROM = HERE.parent / "models" / "ner"
LEGAL = ("LICENSE", "NOTICE")
LICENCE = "CC BY-SA 4.0"
# Chinese sentences are seen twice per epoch (Chinese names are the harder half); with
# ``--swap-names`` the second copy of a sentence with names carries other names of the train
# part (``swap_names``) instead of the same ones.
REPEAT = {"": 2, " ": 1}
SEED = 13
Sentence = tuple[str, list[CharSpan]]


def doc_bins(
    root: Path, sources: Sequence = SOURCES, swap: bool = False
) -> tuple[DocBin, DocBin, dict[str, dict[str, int]]]:
    """Train and held-out DocBins of ``sources`` and GUM; bench/quality's tuning sentences
    (``holdout.excluded``: MultiCoNER's tuning sample) are never trained on, nor are their
    names swapped into others."""
    nlp = spacy.blank("xx")
    tokenizer = ner_tokens.NerTokenizer(nlp.vocab)
    train, held = DocBin(), DocBin()
    counts: dict[str, dict[str, int]] = {}
    read = [(source_key(s), s.joiner, *recipe_read(s, root)) for s in (*sources, GUM)]
    names: dict[str, list[str]] = {joiner: [] for joiner in REPEAT}
    for _, joiner, found, skip in read:
        names[joiner] += name_pool(found, skip)
    rng = random.Random(SEED)  # noqa: S311 -- reproducible augmentation, not a secret
    for key, joiner, found, skip in read:
        counts[key] = _add(found, joiner, tokenizer, train, held, names[joiner] if swap else (),
                           rng, skip)
    return train, held, counts


def recipe_read(source, root: Path) -> tuple[list[Sentence], frozenset[str]]:
    """A source's sentences as the recipe reads them, and the keys of those it must not
    train on (``holdout.excluded``); bench/quality/seen.py reads them the same way."""
    found = list(corpora.gum_sentences(source, root) if source is GUM else corpora.sentences(source, root))
    return found, holdout.excluded(source, [text for text, _ in found])


def source_key(source) -> str:
    """``repo:path``: one repository may carry several sources (MultiCoNER)."""
    return f"{source.repo}:{source.path}"


def name_pool(found: list[Sentence], excluded: frozenset[str] = frozenset()) -> list[str]:
    """Every PERSON mention of a source's train part (never of its held-out 1/20, nor of a
    sentence in ``excluded``)."""
    return [text[a:b] for index, (text, spans) in enumerate(found) if trained(index, text, excluded)
            for a, b, label in spans if label == "PERSON"]


def trained(index: int, text: str, excluded: frozenset[str] = frozenset()) -> bool:
    """Whether the recipe trains on a source's ``index``-th sentence: not in the held-out
    1/``HOLD_OUT``, and not a tuning sentence (``holdout.key`` in ``excluded``).

    >>> [trained(i, "x") for i in (0, HOLD_OUT - 1)], trained(0, "X!", frozenset({"x"}))
    ([True, False], False)
    """
    return not _held(index) and holdout.key(text) not in excluded


def swap_names(
    text: str, spans: list[CharSpan], pool: Sequence[str], rng: random.Random
) -> Sentence:
    """The sentence with each PERSON mention replaced by one drawn from ``pool``, the other
    spans moved along: the model learns names from their context, not by heart.

    >>> swap_names("张三和李四去了北京", [(0, 2, "PERSON"), (3, 5, "PERSON"), (7, 9, "LOC")],
    ...            ["欧阳娜娜"], random.Random(1))
    ('欧阳娜娜和欧阳娜娜去了北京', [(0, 4, 'PERSON'), (5, 9, 'PERSON'), (11, 13, 'LOC')])
    """
    ordered = sorted(spans)
    if any(a[1] > b[0] for a, b in itertools.pairwise(ordered)):
        return text, spans  # nested spans (GUM): left as they are
    out, moved, shift, last = [], [], 0, 0
    for start, end, label in ordered:
        out.append(text[last:start])
        name = rng.choice(pool) if label == "PERSON" and pool else text[start:end]
        out.append(name)
        moved.append((start + shift, start + shift + len(name), label))
        shift += len(name) - (end - start)
        last = end
    out.append(text[last:])
    return "".join(out), moved


def _held(index: int) -> bool:
    return index % HOLD_OUT == HOLD_OUT - 1


def _add(found: list[Sentence], joiner: str, tokenizer, train: DocBin, held: DocBin,
         names: Sequence[str] = (), rng: random.Random | None = None,
         excluded: frozenset[str] = frozenset()) -> dict[str, int]:
    """Every HOLD_OUT-th sentence into ``held`` (bench/quality/tune.py reads the same ones),
    a sentence in ``excluded`` (a tuning one) nowhere, the others into ``train``, Chinese
    ones twice (the copy with ``names`` swapped in, if any are given)."""
    rng = rng or random.Random(SEED)  # noqa: S311 -- reproducible augmentation, not a secret
    count = {"sentences": 0, "entities": 0, "dropped": 0, "swapped": 0, "tuning": 0}
    for index, (text, spans) in enumerate(found):
        if _held(index):
            held.add(_doc(text, spans, tokenizer, count))
            continue
        if not trained(index, text, excluded):
            count["tuning"] += 1
            continue
        train.add(_doc(text, spans, tokenizer, count))
        for _ in range(REPEAT[joiner] - 1):
            if names and any(label == "PERSON" for *_, label in spans):
                count["swapped"] += 1
                train.add(_doc(*swap_names(text, spans, names, rng), tokenizer, None))
            else:
                train.add(_doc(text, spans, tokenizer, None))
    return count


def _doc(text: str, spans: list[CharSpan], tokenizer, count: dict[str, int] | None):
    doc = tokenizer(nfkc_chars(text))
    entities: list[Span] = []
    # Nested entities (GUM: "Pittsburgh" in "Pittsburgh Pirates"): the outer one.
    for start, end, label in sorted(spans, key=lambda s: (s[0] - s[1], s[0])):
        span = doc.char_span(start, end, label=label, alignment_mode="expand")
        if span is None or any(span.start < e.end and e.start < span.end for e in entities):
            if count is not None:
                count["dropped"] += 1
            continue
        entities.append(span)
    doc.ents = sorted(entities)
    if count is not None:
        count["sentences"] += 1
        count["entities"] += len(entities)
    return doc


def nfkc_chars(text: str) -> str:
    """NFKC per character where it keeps the length, as baomi normalises what it reads
    (detectors.normalize: "，" -> ","), with every offset unchanged.

    >>> nfkc_chars("张三，你好！…")
    '张三,你好!…'
    """
    return "".join(n if len(n := unicodedata.normalize("NFKC", c)) == 1 else c for c in text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--corpora", type=Path, default=Path(os.environ.get("BAOMI_NER_CORPORA", DEFAULT_ROOT))
    )
    parser.add_argument("--out", type=Path, default=HERE.parent / "models" / "ner")
    parser.add_argument("--work", type=Path, default=None, help="keep DocBins and checkpoints here")
    parser.add_argument("--max-steps", type=int, default=None)
    parser.add_argument("--more-data", action="store_true",
                        help="also corpora.MORE (tried, not shipped yet: SOURCES.md)")
    parser.add_argument("--swap-names", action="store_true",
                        help="the second copy of a Chinese sentence carries other names")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE",
        help="a config.cfg override for an experiment, e.g. components.tok2vec.model.width=80",
    )
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="baomi-ner-"))
    work.mkdir(parents=True, exist_ok=True)
    legal = {name: (LEGAL_FROM / name).read_bytes() for name in LEGAL}  # before hours of work
    sources = (*SOURCES, *MORE) if args.more_data else SOURCES
    train, held, counts = doc_bins(args.corpora, sources, args.swap_names)
    train.to_disk(work / "train.spacy")
    held.to_disk(work / "held.spacy")
    print(json.dumps(counts, indent=1), flush=True)
    overrides: dict[str, object] = {
        "paths.train": str(work / "train.spacy"), "paths.dev": str(work / "held.spacy")
    }
    if args.max_steps is not None:
        overrides["training.max_steps"] = args.max_steps
    for setting in args.set:
        key, _, value = setting.partition("=")
        overrides[key] = int(value) if value.isdigit() else value
    from spacy.cli.train import train as spacy_train

    spacy_train(HERE / "config.cfg", work / "output", overrides=overrides)
    _ship(work / "output" / "model-best", args.out, counts, legal, sources)
    return 0


def _ship(
    best: Path, out: Path, counts: dict[str, dict[str, int]], legal: dict[str, bytes],
    sources: Sequence = SOURCES,
) -> None:
    """The best checkpoint -> ``out``, with its sources in meta.json and the shipped
    model's LICENSE and NOTICE (the licence and attribution do not change with a retrain)."""
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(best, out)
    for name, content in legal.items():
        (out / name).write_bytes(content)
    meta = json.loads((out / "meta.json").read_text())
    meta.update(
        name="baomi_ner",
        version="0.1.0",
        description="baomi's PERSON/LOC/ORG tagger (detectors/training)",
        author="baomi",
        license=LICENCE,
        attribution="see NOTICE: corpora, authors, commits and licences",
        sources=[
            {"repo": s.repo, "commit": s.commit, "path": s.path, "licence": s.licence}
            | counts[source_key(s)]
            for s in (*sources, GUM)
        ],
    )
    (out / "meta.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n")
    write_manifest(out)


def write_manifest(out: Path) -> None:
    """SHA256SUMS of every file: baomi checks it before loading (detectors.nlp._verify)."""
    lines = [
        f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {path.relative_to(out).as_posix()}"
        for path in sorted(out.rglob("*"))
        if path.is_file() and path.name != MANIFEST
    ]
    (out / MANIFEST).write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
