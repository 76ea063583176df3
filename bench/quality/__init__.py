"""Detection quality benchmark: a labelled, seeded corpus and a scorer.

    .venv/bin/python bench/quality/score.py --seed 2 --payloads 1000      # baomi vs Presidio
    .venv/bin/python bench/quality/generate.py --seed 1 --out corpus.jsonl

Values come from Faker and from this folder's own code (``values.py``), never
from baomi's recognizers or word lists, so the benchmark does not grade our
code against itself. Tune on seed 1, report on seed 2.
"""
