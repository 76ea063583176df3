"""Build bench/quality/data/ from public corpora fetched as bare git mirrors.

    .venv/bin/python bench/quality/vendor.py --mirrors /work/.mirror
    .venv/bin/python bench/quality/vendor.py --mirrors /work/.mirror --only msra,resume \\
        --out /tmp/real-local --limit 0          # unlicensed sources: a local copy, all items

Each source names its repository, commit, path, licence and split (``SOURCES``); a
source whose licence does not allow redistribution (``vendor=False``) is never written
into the repository's data folder, only into ``--out`` elsewhere. Labelled text becomes
``text/<source>.jsonl`` lines ``{"id", "source", "lang", "split", "text", "spans":
[[entity, start, end], ...]}``; clean payloads become ``clean/<source>.jsonl`` lines
``{"id", "source", "collection", "method", "url", "content_type", "body"}``.
Sampling is seeded (``random.Random(source name)``) so a rebuild gives the same files.
A sampled sentence that is also in a TRAIN split the shipped NER model reads
(``seen.training_keys``: NFKC, lower-case, letters and digits compared) is dropped, its id
left as a gap: the model saw it, so it is not held out. Each source's count is printed.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.quality import seen
from bench.quality.payloadreaders import (
    expected_entities,
    read_bkcmdb,
    read_har,
    read_octokit,
    read_slack,
    read_stripe,
)
from bench.quality.textreaders import (
    read_address,
    read_address_dev,
    read_bio_zh,
    read_bmes,
    read_gum,
    read_uner,
    read_weibo,
    read_wnut,
)

DATA = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True)
class Source:
    name: str
    repo: str  # owner/name on GitHub
    commit: str
    path: str
    licence: str
    split: str  # "test" for labelled text; "dev" / "test" collection for clean payloads
    lang: str
    vendor: bool  # False: licence unknown, never written into DATA
    limit: int  # items kept by default (0: all)
    read: str  # name of the reader in READERS


SOURCES = (
    Source("weibo", "hltcoe/golden-horse", "7a73c08e45ed94312af4ef2d97cc35a47d029e99",
           "data/weiboNER_2nd_conll.test", "CC BY-SA 3.0", "test", "zh", True, 0, "weibo"),
    Source("wnut17", "leondz/emerging_entities_17", "e52a2d2a71ac1a051ca2d532eef28653c5c02603",
           "emerging.test.annotated", "CC BY 4.0", "test", "en", True, 0, "wnut"),
    Source("resume", "jiesutd/LatticeLSTM", "24d17f4270f11d2f75046789d8b67eaa2b907dce",
           "ResumeNER/test.char.bmes", "none stated", "test", "zh", False, 0, "bmes"),
    Source("gsd", "UniversalNER/UNER_Chinese-GSDSIMP", "1f0307599dece7b83f4cba90ce9b63ef37a7b162",
           "zh_gsdsimp-ud-test.iob2", "CC BY-SA 4.0", "test", "zh", True, 0, "uner"),
    Source("ewt", "UniversalNER/UNER_English-EWT", "8ed072de2fd24022cc62458997fe96a8fe191ea4",
           "en_ewt-ud-test.iob2", "CC BY-SA 4.0", "test", "en", True, 0, "uner"),
    # GUM's test documents of the genres whose texts allow redistribution (see SOURCES.md)
    Source("gum", "amir-zeldes/gum", "72ce5ac14978a324c2fd18d49484e65292cbe316",
           "dep/GUM_academic_discrimination.conllu|dep/GUM_academic_eegimaa.conllu|dep/GUM_bio_dvorak.conllu|dep/GUM_bio_jespersen.conllu|dep/GUM_court_insanity.conllu|dep/GUM_court_mitigation.conllu|dep/GUM_interview_hill.conllu|dep/GUM_interview_libertarian.conllu|dep/GUM_news_nasa.conllu|dep/GUM_news_sensitive.conllu|dep/GUM_voyage_oakland.conllu|dep/GUM_voyage_vavau.conllu",
           "CC BY 4.0 / CC BY 2.5 / CC BY-SA 3.0 by genre", "test", "en", True, 0, "gum"),
    Source("msra", "zjy-ucas/ChineseNER", "48e1007e60194c13377f8ce612c505d484b18c7d",
           "data/example.test", "none stated", "test", "zh", False, 1000, "bio_zh"),
    Source("address", "leodotnet/neural-chinese-address-parsing",
           "54cf6bde941a152cc096f54294254fc4ee288fa7", "data/test.txt", "none stated", "test",
           "zh", False, 600, "address"),
    # dev splits, for tuning (scored in their own "<lang>-dev" groups, never in the report's)
    Source("weibo_dev", "hltcoe/golden-horse", "7a73c08e45ed94312af4ef2d97cc35a47d029e99",
           "data/weiboNER_2nd_conll.dev", "CC BY-SA 3.0", "dev", "zh", True, 0, "weibo"),
    Source("wnut17_dev", "leondz/emerging_entities_17", "e52a2d2a71ac1a051ca2d532eef28653c5c02603",
           "emerging.dev.conll", "CC BY 4.0", "dev", "en", True, 0, "wnut"),
    Source("gsd_dev", "UniversalNER/UNER_Chinese-GSDSIMP", "1f0307599dece7b83f4cba90ce9b63ef37a7b162",
           "zh_gsdsimp-ud-dev.iob2", "CC BY-SA 4.0", "dev", "zh", True, 0, "uner"),
    Source("ewt_dev", "UniversalNER/UNER_English-EWT", "8ed072de2fd24022cc62458997fe96a8fe191ea4",
           "en_ewt-ud-dev.iob2", "CC BY-SA 4.0", "dev", "en", True, 1000, "uner"),
    Source("gum_dev", "amir-zeldes/gum", "72ce5ac14978a324c2fd18d49484e65292cbe316",
           "dep/GUM_academic_exposure.conllu|dep/GUM_academic_librarians.conllu|dep/GUM_bio_byron.conllu|dep/GUM_bio_emperor.conllu|dep/GUM_court_loan.conllu|dep/GUM_court_negligence.conllu|dep/GUM_interview_cyclone.conllu|dep/GUM_interview_gaming.conllu|dep/GUM_news_homeopathic.conllu|dep/GUM_news_iodine.conllu|dep/GUM_voyage_athens.conllu|dep/GUM_voyage_coron.conllu",
           "CC BY 4.0 / CC BY 2.5 / CC BY-SA 3.0 by genre", "dev", "en", True, 0, "gum"),
    Source("address_dev", "leodotnet/neural-chinese-address-parsing",
           "54cf6bde941a152cc096f54294254fc4ee288fa7", "data/dev.txt", "none stated", "dev",
           "zh", False, 600, "address_dev"),
    Source("slack", "slackapi/slack-api-specs", "bc08db49625630e3585bf2f1322128ea04f2a7f3",
           "web-api/slack_web_openapi_v2.json", "MIT", "dev", "en", True, 0, "slack"),
    Source("stripe", "stripe/openapi", "f6c2a48fbac2819d1feba8143d942ffc65e1c0d2",
           "openapi/fixtures3.json", "MIT", "dev", "en", True, 0, "stripe"),
    Source("bkjob", "TencentBlueKing/bk-job", "588f99bb3f99194cc0486ca66118ef85eee0aaa8",
           "docs/apidoc/bk-api-gateway/v3/zh/*.md|docs/apidoc/esb/jobv3-confapis/apidocs/zh_hans/*.md",
           "MIT", "dev", "zh", True, 300, "bkcmdb"),
    Source("har", "mitmproxy/mitmproxy", "8fc25b3045934777b0796d8ec7958bbc257d7bb5",
           "test/mitmproxy/data/*/*.har|test/mitmproxy/data/*.har", "MIT", "test", "en", True, 0, "har"),
    Source("github", "octokit/fixtures", "cb8bc9dafc55a3837be4434ff4ba7acf3d9cadde",
           "scenarios/api.github.com/*/normalized-fixture.json", "MIT", "test", "en", True,
           300, "octokit"),
    Source("bkcmdb", "TencentBlueKing/bk-cmdb", "111e7ac66a9f81ac1617bf3d60aea8e430e76a46",
           "docs/apidoc/apigw/*/zh/*.md", "MIT", "test", "zh", True, 300, "bkcmdb"),
)  # fmt: skip
BY_NAME = {s.name: s for s in SOURCES}
CLEAN = frozenset({"slack", "stripe", "bkjob", "github", "bkcmdb", "har"})


class Mirror:
    """Files of one commit of a bare mirror (``git show``), no work tree needed."""

    def __init__(self, root: Path, source: Source) -> None:
        owner, name = source.repo.split("/")
        base = root / f"{owner}+{name}" / "repo"
        self.git_dir = base / ".git" if (base / ".git").is_dir() else base
        self.commit = source.commit

    def _git(self, *args: str) -> str:
        out = subprocess.run(
            ["git", f"--git-dir={self.git_dir}", *args], capture_output=True, check=True
        )
        return out.stdout.decode("utf-8")

    def read(self, path: str) -> str:
        return self._git("show", f"{self.commit}:{path}")

    def paths(self, patterns: str) -> list[str]:
        """Files matching any of ``a/*.md|b/*/*.har`` (``*``: one path part)."""
        names = self._git("ls-tree", "-r", "--name-only", self.commit).splitlines()
        alternatives = "|".join(re.escape(p).replace(r"\*", "[^/]+") for p in patterns.split("|"))
        regex = re.compile(f"(?:{alternatives})$")
        return sorted(n for n in names if regex.match(n))


def write_expected(out: Path) -> Path:
    """``clean/expected.json``: payload id -> entities it should raise, over every clean file."""
    labels = {}
    for path in sorted((out / "clean").glob("*.jsonl")):
        with path.open(encoding="utf-8") as f:
            for row in map(json.loads, f):
                entities = expected_entities(row["source"], row["body"])
                if entities:
                    labels[row["id"]] = {"entities": entities, "why": "example personal data"}
    target = out / "clean" / "expected.json"
    target.write_text(json.dumps(labels, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return target


READERS: dict[str, Callable[[str], Iterator]] = {
    "weibo": read_weibo, "wnut": read_wnut, "bmes": read_bmes, "address": read_address,
    "address_dev": read_address_dev,
    "bio_zh": read_bio_zh, "uner": read_uner, "har": read_har, "gum": read_gum,
    "slack": read_slack, "stripe": read_stripe, "octokit": read_octokit, "bkcmdb": read_bkcmdb,
}  # fmt: skip


def records(source: Source, mirror: Mirror, limit: int, trained: frozenset[str] = frozenset()) -> list[dict]:  # fmt: skip
    """The source's rows, less the labelled sentences whose ``seen.key`` is in ``trained``."""
    return unseen_records(source, mirror, limit, trained)[0]


def unseen_records(
    source: Source, mirror: Mirror, limit: int, trained: frozenset[str]
) -> tuple[list[dict], int]:
    """(rows, how many sampled sentences were dropped as seen in training). A dropped
    sentence leaves a gap in the ids: the sample and the other rows stay as they were."""
    reader = READERS[source.read]
    items = [item for path in mirror.paths(source.path) for item in reader(mirror.read(path))]
    if source.name in CLEAN:
        items = list(dict.fromkeys(items))  # the same example twice is one payload
    else:
        items = [item for item in items if item[0].strip()]
    keep = sorted(random.Random(source.name).sample(range(len(items)), limit)) if 0 < limit < len(items) else range(len(items))  # fmt: skip
    out, dropped = [], 0
    for n, i in enumerate(keep):
        base = {"id": f"{source.name}-{n:04d}", "source": source.name}
        if source.name in CLEAN:
            method, url, content_type, body, headers = items[i]
            out.append(base | {"collection": source.split, "method": method, "url": url,
                               "content_type": content_type, "body": body,
                               "headers": [list(h) for h in headers]})  # fmt: skip
        elif seen.key(items[i][0]) in trained:
            dropped += 1
        else:
            text, spans = items[i]
            out.append(base | {"lang": source.lang, "split": source.split, "text": text, "spans": spans})  # fmt: skip
    return out, dropped


def write(source: Source, rows: list[dict], out: Path) -> Path:
    folder = out / ("clean" if source.name in CLEAN else "text")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{source.name}.jsonl"
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--mirrors", type=Path, required=True, help="folder of owner+name/repo git dirs"
    )
    parser.add_argument("--out", type=Path, default=DATA, help=f"default {DATA}")
    parser.add_argument("--only", default="", help="comma-separated source names")
    parser.add_argument("--limit", type=int, default=None, help="items per source (0: all)")
    args = parser.parse_args()
    names = [n for n in args.only.split(",") if n] or [s.name for s in SOURCES]
    trained = seen.training_keys(args.mirrors) if set(names) - CLEAN else frozenset()
    for name in names:
        source = BY_NAME[name]
        if args.out.resolve() == DATA and not source.vendor:
            print(
                f"{name}: licence '{source.licence}', not vendored (use --out elsewhere)",
                file=sys.stderr,
            )
            continue
        limit = source.limit if args.limit is None else args.limit
        rows, dropped = unseen_records(source, Mirror(args.mirrors, source), limit, trained)
        seen_note = (
            "" if name in CLEAN else f" ({dropped} dropped: in the NER model's TRAIN splits)"
        )
        print(f"{name}: {len(rows)} items{seen_note} -> {write(source, rows, args.out)}", file=sys.stderr)  # fmt: skip
    if (args.out / "clean").is_dir():
        print(f"labels -> {write_expected(args.out)}", file=sys.stderr)


if __name__ == "__main__":
    main()
