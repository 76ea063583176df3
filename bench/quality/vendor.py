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
"""

from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import sys
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

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
    Source("address", "leodotnet/neural-chinese-address-parsing",
           "54cf6bde941a152cc096f54294254fc4ee288fa7", "data/test.txt", "none stated", "test",
           "zh", False, 600, "address"),
    Source("slack", "slackapi/slack-api-specs", "bc08db49625630e3585bf2f1322128ea04f2a7f3",
           "web-api/slack_web_openapi_v2.json", "MIT", "dev", "en", True, 0, "slack"),
    Source("stripe", "stripe/openapi", "f6c2a48fbac2819d1feba8143d942ffc65e1c0d2",
           "openapi/fixtures3.json", "MIT", "dev", "en", True, 0, "stripe"),
    Source("github", "octokit/fixtures", "cb8bc9dafc55a3837be4434ff4ba7acf3d9cadde",
           "scenarios/api.github.com/*/normalized-fixture.json", "MIT", "test", "en", True,
           300, "octokit"),
    Source("bkcmdb", "TencentBlueKing/bk-cmdb", "111e7ac66a9f81ac1617bf3d60aea8e430e76a46",
           "docs/apidoc/apigw/*/zh/*.md", "MIT", "test", "zh", True, 300, "bkcmdb"),
)  # fmt: skip
BY_NAME = {s.name: s for s in SOURCES}
CLEAN = frozenset({"slack", "stripe", "github", "bkcmdb"})


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

    def paths(self, pattern: str) -> list[str]:
        names = self._git("ls-tree", "-r", "--name-only", self.commit).splitlines()
        regex = re.compile(re.escape(pattern).replace(r"\*", "[^/]+") + "$")
        return sorted(n for n in names if regex.match(n))


# --- labelled text ------------------------------------------------------------------


def tagged_sentences(text: str, sep: str | None) -> Iterator[list[tuple[str, str]]]:
    """CoNLL-style ``token<sep>tag`` lines, sentences split by blank lines."""
    sentence: list[tuple[str, str]] = []
    for line in text.splitlines():
        if not line.strip():
            if sentence:
                yield sentence
            sentence = []
            continue
        token, tag = line.rstrip("\n").split(sep)[:2] if sep else line.split()[:2]
        sentence.append((token, tag.strip()))
    if sentence:
        yield sentence


def spans_of(tokens: list[tuple[str, str]], joiner: str, keep: Callable[[str], str | None]):
    """Text and ``[entity, start, end]`` spans from BIO/BMES tags.

    >>> spans_of([("Li", "B-PER"), ("Ming", "I-PER"), ("ran", "O")], " ", lambda t: "PERSON")
    ('Li Ming ran', [['PERSON', 0, 7]])
    """
    text, spans, open_span = "", [], None
    for i, (token, tag) in enumerate(tokens):
        if i and joiner:
            text += joiner
        start = len(text)
        text += token
        prefix, _, label = tag.partition("-")
        entity = keep(label) if label else None
        if open_span and (entity != open_span[0] or prefix in ("B", "S")):
            spans.append(open_span)
            open_span = None
        if entity:
            open_span = open_span or [entity, start, start]
            open_span[2] = len(text)
            if prefix in ("E", "S"):
                spans.append(open_span)
                open_span = None
    if open_span:
        spans.append(open_span)
    return text, spans


def read_weibo(text: str) -> Iterator[tuple[str, list]]:
    """Weibo NER (2nd release): characters carry a segment position digit (``李0``);
    only named persons (``PER.NAM``) count, nominal mentions (``PER.NOM``, 导演) are not names."""
    for sentence in tagged_sentences(text, "\t"):
        tokens = [(token[:-1] if token[-1:].isdigit() else token, tag) for token, tag in sentence]
        yield spans_of(tokens, "", lambda label: "PERSON" if label == "PER.NAM" else None)


def read_wnut(text: str) -> Iterator[tuple[str, list]]:
    for sentence in tagged_sentences(text, "\t"):
        yield spans_of(sentence, " ", lambda label: "PERSON" if label == "person" else None)


def read_bmes(text: str) -> Iterator[tuple[str, list]]:
    """Resume NER: BMES tags, ``NAME`` is a person."""
    for sentence in tagged_sentences(text, None):
        yield spans_of(sentence, "", lambda label: "PERSON" if label == "NAME" else None)


# Address parsing tags that are not part of the postal address itself.
NOT_ADDRESS = frozenset({"person", "otherinfo", "redundant", "assist"})
# An address worth calling postal: a street number, building, room, village or estate in it.
POSTAL = frozenset({"roadno", "subroadno", "houseno", "cellno", "floorno", "roomno", "community", "poi"})  # fmt: skip


def read_address(text: str) -> Iterator[tuple[str, list]]:
    """Address parsing queries: one address per query, tagged by component.

    The gold ADDRESS span runs from the first to the last address component; a query
    holding a person or other info inside, or with fewer than three components, is skipped.
    """
    for sentence in tagged_sentences(text, None):
        labels = [tag.partition("-")[2] for _, tag in sentence]
        inside = [i for i, label in enumerate(labels) if label not in NOT_ADDRESS]
        if not inside:
            continue
        first, last = inside[0], inside[-1]
        middle = set(labels[first : last + 1])
        components = {t for t in labels if t not in NOT_ADDRESS}
        if middle & {"person", "otherinfo"} or len(components) < 3 or not components & POSTAL:
            continue
        address = "".join(token for token, _ in sentence[first : last + 1])
        before, after = FRAMES[zlib.crc32(address.encode()) % len(FRAMES)]
        yield before + address + after, [["ADDRESS", len(before), len(before) + len(address)]]


# Carrier sentences for the bare addresses (written here, not from a corpus): what comes
# after the address is a clause or a separator that must not be swallowed.
FRAMES = (
    ("请把合同寄到", "，收到后回个电话。"),
    ("新地址是", "，以后的发票都寄这里"),
    ("收货地址：", " 工作日送货"),
    ("我住在", "，离地铁站走路十分钟。"),
    ("麻烦改一下配送地址为", "；原地址作废。"),
    ("客户反馈", "的快递三天没到，请查一下物流。"),
    ("", "\n备注：放门卫室即可"),
    ("上门安装地址", "（周六上午有人）"),
    ("已核实该用户地址为", "，与身份证登记地址不一致。"),
    ("明天下午去", "拜访客户，带上样品"),
)


# --- clean payloads ------------------------------------------------------------------

Payload = tuple[str, str, str, str]  # method, url, content type, body


def _json_body(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, indent=1)


def read_slack(text: str) -> Iterator[Payload]:
    """Every example response body of the Web API spec, as a bot relaying it would post it."""
    spec = json.loads(text)
    for path, operations in sorted(spec["paths"].items()):
        for _method, operation in sorted(operations.items()):
            for _code, response in sorted(operation.get("responses", {}).items()):
                example = response.get("examples", {}).get("application/json")
                if example and example != {"ok": True}:
                    yield (
                        "POST",
                        f"https://slack.com/api{path}",
                        "application/json",
                        _json_body(example),
                    )


def read_stripe(text: str) -> Iterator[Payload]:
    for name, resource in sorted(json.loads(text)["resources"].items()):
        yield "POST", f"https://api.stripe.com/v1/{name}s", "application/json", _json_body(resource)


def read_octokit(text: str) -> Iterator[Payload]:
    """Recorded GitHub API exchanges: request bodies and response bodies."""
    for call in json.loads(text):
        url = call["scope"].replace(":443", "") + call["path"]
        for body in (call.get("body"), call.get("response")):
            if isinstance(body, dict | list) and body:
                yield call["method"].upper(), url, "application/json", _json_body(body)


TRAILING_COMMA = re.compile(r",(\s*[}\]])")


def read_bkcmdb(text: str) -> Iterator[Payload]:
    """The request and response examples of an API page (```json blocks that parse)."""
    for block in re.findall(r"```json\s*\n(.*?)```", text, re.S):
        try:
            value = json.loads(TRAILING_COMMA.sub(r"\1", block))
        except json.JSONDecodeError:
            continue
        if value:
            yield (
                "POST",
                "https://bkapi.example.com/api/cmdb/v3",
                "application/json",
                _json_body(value),
            )


READERS: dict[str, Callable[[str], Iterator]] = {
    "weibo": read_weibo, "wnut": read_wnut, "bmes": read_bmes, "address": read_address,
    "slack": read_slack, "stripe": read_stripe, "octokit": read_octokit, "bkcmdb": read_bkcmdb,
}  # fmt: skip


def records(source: Source, mirror: Mirror, limit: int) -> list[dict]:
    reader = READERS[source.read]
    items = [item for path in mirror.paths(source.path) for item in reader(mirror.read(path))]
    if source.name in CLEAN:
        items = list(dict.fromkeys(items))  # the same example twice is one payload
    else:
        items = [item for item in items if item[0].strip()]
    keep = sorted(random.Random(source.name).sample(range(len(items)), limit)) if 0 < limit < len(items) else range(len(items))  # fmt: skip
    out = []
    for n, i in enumerate(keep):
        base = {"id": f"{source.name}-{n:04d}", "source": source.name}
        if source.name in CLEAN:
            method, url, content_type, body = items[i]
            out.append(base | {"collection": source.split, "method": method, "url": url,
                               "content_type": content_type, "body": body})  # fmt: skip
        else:
            text, spans = items[i]
            out.append(base | {"lang": source.lang, "split": source.split, "text": text, "spans": spans})  # fmt: skip
    return out


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
    for name in names:
        source = BY_NAME[name]
        if args.out.resolve() == DATA and not source.vendor:
            print(
                f"{name}: licence '{source.licence}', not vendored (use --out elsewhere)",
                file=sys.stderr,
            )
            continue
        limit = source.limit if args.limit is None else args.limit
        rows = records(source, Mirror(args.mirrors, source), limit)
        print(f"{name}: {len(rows)} items -> {write(source, rows, args.out)}", file=sys.stderr)


if __name__ == "__main__":
    main()
