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
import json
import os
import shutil
import sys
import tempfile
import unicodedata
from pathlib import Path

import spacy
from spacy.tokens import DocBin, Span

from detectors import ner_tokens
from detectors.nlp import MANIFEST
from detectors.training.corpora import DEFAULT_ROOT, GUM, SOURCES, gum_sentences, sentences

HERE = Path(__file__).parent
HOLD_OUT = 20  # every 20th training sentence selects the checkpoint
# The shipped model's licence and attribution (NOTICE): a retrain keeps them, and meta.json
# says the same. CC BY-SA 4.0 because some sources are CC BY-SA (SOURCES.md).
LEGAL_FROM = HERE.parent / "models" / "ner"
LEGAL = ("LICENSE", "NOTICE")
LICENCE = "CC BY-SA 4.0"
# Chinese corpora are smaller than the English ones: seen twice per epoch.
REPEAT = {"": 2, " ": 1}


def doc_bins(root: Path) -> tuple[DocBin, DocBin, dict[str, dict[str, int]]]:
    nlp = spacy.blank("xx")
    tokenizer = ner_tokens.NerTokenizer(nlp.vocab)
    train, held = DocBin(), DocBin()
    counts: dict[str, dict[str, int]] = {}
    for source in SOURCES:
        counts[source.repo] = _add(sentences(source, root), source.joiner, tokenizer, train, held)
    counts[GUM.repo] = _add(gum_sentences(GUM, root), GUM.joiner, tokenizer, train, held)
    return train, held, counts


def _add(found, joiner: str, tokenizer, train: DocBin, held: DocBin) -> dict[str, int]:
    count = {"sentences": 0, "entities": 0, "dropped": 0}
    for index, (text, spans) in enumerate(found):
        doc = tokenizer(nfkc_chars(text))
        entities: list[Span] = []
        # Nested entities (GUM: "Pittsburgh" in "Pittsburgh Pirates"): the outer one.
        for start, end, label in sorted(spans, key=lambda s: (s[0] - s[1], s[0])):
            span = doc.char_span(start, end, label=label, alignment_mode="expand")
            if span is None or any(span.start < e.end and e.start < span.end for e in entities):
                count["dropped"] += 1
                continue
            entities.append(span)
        doc.ents = sorted(entities)
        count["sentences"] += 1
        count["entities"] += len(entities)
        if index % HOLD_OUT == HOLD_OUT - 1:
            held.add(doc)
        else:
            for _ in range(REPEAT[joiner]):
                train.add(doc)
    return count


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
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="baomi-ner-"))
    work.mkdir(parents=True, exist_ok=True)
    legal = {name: (LEGAL_FROM / name).read_bytes() for name in LEGAL}  # before hours of work
    train, held, counts = doc_bins(args.corpora)
    train.to_disk(work / "train.spacy")
    held.to_disk(work / "held.spacy")
    print(json.dumps(counts, indent=1), flush=True)
    overrides = {"paths.train": str(work / "train.spacy"), "paths.dev": str(work / "held.spacy")}
    if args.max_steps is not None:
        overrides["training.max_steps"] = args.max_steps
    from spacy.cli.train import train as spacy_train

    spacy_train(HERE / "config.cfg", work / "output", overrides=overrides)
    _ship(work / "output" / "model-best", args.out, counts, legal)
    return 0


def _ship(
    best: Path, out: Path, counts: dict[str, dict[str, int]], legal: dict[str, bytes]
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
            | counts[s.repo]
            for s in (*SOURCES, GUM)
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
