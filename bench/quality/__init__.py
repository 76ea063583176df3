"""Detection quality benchmark: a labelled, seeded corpus, real public data, and a scorer.

    .venv/bin/python bench/quality/score.py --seed 2 --payloads 1000      # baomi vs Presidio
    .venv/bin/python bench/quality/generate.py --seed 1 --out corpus.jsonl
    .venv/bin/python bench/quality/score.py --real                        # real text, payloads

Generated values come from Faker and from this folder's own code (``values.py``),
never from baomi's recognizers or word lists, so the benchmark does not grade our
code against itself. Tune on seed 1, report on seed 2. Real data (``data/``,
``real.py``, ``realscore.py``, ``vendor.py``, sources in ``SOURCES.md``): labelled
text from dev and test splits (never tuned on: train splits only are for training or
tuning, see SOURCES.md); clean payloads in a ``dev`` collection and a ``test``
collection from other sources (report it).
"""
