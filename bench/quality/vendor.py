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


def read_bio_zh(text: str) -> Iterator[tuple[str, list]]:
    """People's Daily / MSRA style: one character per line, BIO, ``PER`` is a person."""
    for sentence in tagged_sentences(text, None):
        yield spans_of(sentence, "", lambda label: "PERSON" if label == "PER" else None)


def read_uner(text: str) -> Iterator[tuple[str, list]]:
    """Universal NER (IOB2 over UD tokens): spans are placed in the ``# text =`` line, so the
    sentence keeps its own spacing (``Miramar?``, not ``Miramar ?``)."""
    for block in text.split("\n\n"):
        lines = block.strip().splitlines()
        original = next((ln[len("# text = ") :] for ln in lines if ln.startswith("# text = ")), "")
        rows = [ln.split("\t") for ln in lines if ln and not ln.startswith("#")]
        if not original or not rows:
            continue
        spans, cursor, open_span = [], 0, None
        for row in rows:
            token, tag = row[1], row[2]
            start = original.find(token, cursor)
            if start < 0:
                break  # a token not in the text (never seen in these files): drop the sentence
            cursor = start + len(token)
            if open_span and not tag.startswith("I-PER"):
                spans.append(open_span)
                open_span = None
            if tag == "B-PER" or (tag == "I-PER" and open_span is None):
                open_span = ["PERSON", start, cursor]
            elif tag == "I-PER" and open_span:
                open_span[2] = cursor
        else:
            if open_span:
                spans.append(open_span)
            yield original, spans


def entity_events(misc_entity: str) -> list[tuple[str, str, str]]:
    """GUM's ``Entity=`` value -> ("open", id, type) / ("close", id, "") in order.

    >>> entity_events("(10-person-new-coref-Charles_Bolden(1-organization-giv-NASA)")
    [('open', '10', 'person'), ('open', '1', 'organization'), ('close', '1', '')]
    >>> entity_events("10)")
    [('close', '10', '')]
    """
    events, i = [], 0
    while i < len(misc_entity):
        if misc_entity[i] == "(":
            j = i + 1
            while j < len(misc_entity) and misc_entity[j] not in "()":
                j += 1
            eid, kind = misc_entity[i + 1 : j].split("-")[:2]
            events.append(("open", eid, kind))
            if j < len(misc_entity) and misc_entity[j] == ")":
                events.append(("close", eid, ""))
                j += 1
            i = j
            continue
        j = i
        while j < len(misc_entity) and misc_entity[j].isdigit():
            j += 1
        if j > i and j < len(misc_entity) and misc_entity[j] == ")":
            events.append(("close", misc_entity[i:j], ""))
        i = max(j, i) + 1
    return events


# Capitalised role words GUM tags as proper nouns when they stand for a person
# ("Petitioner argues", "the President said"): a role, not a name.
ROLE_WORDS = frozenset({"President", "Governor", "Petitioner", "Respondent", "Senator", "Chairman",
                        "Administrator", "Mayor", "Judge", "Justice", "King", "Queen", "Professor"})  # fmt: skip


def read_gum(text: str) -> Iterator[tuple[str, list]]:
    """GUM CoNLL-U, ``person`` entities: a PERSON when every word is a singular proper noun
    (``Charles Bolden``); NEUTRAL (neither gold nor a false hit when found) when only some
    are (``the astronaut Charles Bolden``, ``Virginia voters``), for plural proper nouns
    (``Americans``) and for a lone role word (``Petitioner``); nothing for pronouns and
    descriptions (``he``, ``the astronaut``). Spans are placed in the ``# text =`` line."""
    for block in text.split("\n\n"):
        lines = block.strip().splitlines()
        original = next((ln[len("# text = ") :] for ln in lines if ln.startswith("# text = ")), "")
        rows = [ln.split("\t") for ln in lines if ln[:1].isdigit()]
        rows = [r for r in rows if len(r) == 10 and r[0].isdigit()]  # no 1-2 ranges, 1.1 nodes
        if not original or not rows:
            continue
        spans, cursor, open_, tokens = [], 0, {}, []
        for row in rows:
            start = original.find(row[1], cursor)
            if start < 0:
                break
            cursor = start + len(row[1])
            tokens.append((start, cursor, row[1], row[3], row[4]))  # offsets, word, upos, xpos
            misc = dict(part.partition("=")[::2] for part in row[9].split("|"))
            for event, eid, kind in entity_events(misc.get("Entity", "")):
                if event == "open":
                    open_[eid] = (len(tokens) - 1, kind)
                elif eid in open_:
                    first, kind = open_.pop(eid)
                    words = tokens[first:]
                    while len(words) > 1 and words[-1][3] == "PART":  # Dvořák|'s
                        words = words[:-1]
                    label = _person_label(words) if kind == "person" else None
                    if label:
                        spans.append([label, words[0][0], words[-1][1]])
        else:
            yield original, sorted(spans)


def _person_label(tokens: list[tuple[int, int, str, str, str]]) -> str | None:
    proper = [upos == "PROPN" for _, _, _, upos, _ in tokens]
    if not any(proper):
        return None
    plural = any(xpos == "NNPS" for *_, xpos in tokens)
    role = len(tokens) == 1 and tokens[0][2] in ROLE_WORDS
    return "PERSON" if all(proper) and not plural and not role else "NEUTRAL"


# Address parsing tags that are not part of the postal address itself.
NOT_ADDRESS = frozenset({"person", "otherinfo", "redundant", "assist"})
# An address worth calling postal: a street number, building, room, village or estate in it.
POSTAL = frozenset({"roadno", "subroadno", "houseno", "cellno", "floorno", "roomno", "community", "poi"})  # fmt: skip


def read_address(
    text: str, frames: tuple[tuple[str, str], ...] | None = None
) -> Iterator[tuple[str, list]]:
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
        frames = frames or TEST_FRAMES
        before, after = frames[zlib.crc32(address.encode()) % len(frames)]
        yield before + address + after, [["ADDRESS", len(before), len(before) + len(address)]]


def read_address_dev(text: str) -> Iterator[tuple[str, list]]:
    return read_address(text, DEV_FRAMES)


# Carrier sentences for the bare addresses (written here, not from a corpus): what comes
# after the address is a clause or a separator that must not be swallowed. The dev split
# (tune on it) and the test split (report it) get different sentences, so tuning on the
# dev sentences does not fit the test ones.
DEV_FRAMES = (
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
TEST_FRAMES = (
    ("您好，我的收货地址改成", "了，麻烦同步一下"),
    ("寄件人地址：", "；寄件时间：周三下午"),
    ("家里搬到", "以后，上班路程短了很多。"),
    ("发票邮寄地址 ", " 请在工作日投递"),
    ("昨天在", "附近发生了一起交通事故，现场已经处理完毕。"),
    ("【配送提醒】您的包裹已到达", "，请及时取件。"),
    ("租房合同上写的是", "，但实际住在隔壁楼。"),
    ("请上门取件，地址为", "。联系时请说明订单号。"),
    ("维修师傅明早九点到", "，请提前留人在家"),
    ("公司注册地址变更为", "（以营业执照为准）"),
)


# --- clean payloads ------------------------------------------------------------------

Payload = tuple[str, str, str, str, tuple]  # method, url, content type, body, headers


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
                    url = f"https://slack.com/api{path}"
                    yield "POST", url, "application/json", _json_body(example), ()


def read_stripe(text: str) -> Iterator[Payload]:
    for name, resource in sorted(json.loads(text)["resources"].items()):
        url = f"https://api.stripe.com/v1/{name}s"
        yield "POST", url, "application/json", _json_body(resource), ()


def read_octokit(text: str) -> Iterator[Payload]:
    """Recorded GitHub API exchanges: request bodies and response bodies."""
    for call in json.loads(text):
        url = call["scope"].replace(":443", "") + call["path"]
        for body in (call.get("body"), call.get("response")):
            if isinstance(body, dict | list) and body:
                yield call["method"].upper(), url, "application/json", _json_body(body), ()


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
                "https://bkapi.example.com/api/v3",
                "application/json",
                _json_body(value),
                (),
            )


HAR_DROP = frozenset({"content-encoding", "content-length", "transfer-encoding"})


def read_har(text: str) -> Iterator[Payload]:
    """Browser and tool captures: every request as sent (URL, headers, body). HAR stores
    bodies decoded, so the encoding and length headers go, with HTTP/2 pseudo-headers; a
    file that does not parse (a corrupt-file fixture) gives none."""
    try:
        entries = json.loads(text.lstrip("\ufeff"))["log"]["entries"]
    except (json.JSONDecodeError, KeyError, TypeError):
        return
    for entry in entries:
        request = entry["request"]
        headers = tuple(
            (h["name"], h["value"])
            for h in request["headers"]
            if not h["name"].startswith(":") and h["name"].lower() not in HAR_DROP
        )
        post = request.get("postData") or {}
        yield (request["method"], request["url"], post.get("mimeType", ""),
               post.get("text", ""), headers)  # fmt: skip


# Example personal data the clean sources carry on purpose (docs samples, fixture
# accounts), found by reading every finding of baomi and Presidio on them and every
# person/contact field (name, e-mail, phone, address): a payload holding one is labelled
# with the customer-data entity it SHOULD raise and scored apart from the clean ones. What
# stays clean: organisations and products (company names, team names), service addresses
# (git@ remotes, noreply in URLs), usernames and IDs, and IP addresses (the default
# policy's customer-data group leaves IP_ADDRESS out: mostly machine addresses).
EXAMPLE_DATA: dict[str, dict[str, tuple[str, ...]]] = {
    "stripe": {
        "PERSON": ("Jenny Rosen", "Jane Austen", "Jane Smith"),
        "EMAIL_ADDRESS": ("jenny@example.com", "jenny.rosen@example.com", "example@example.com",
                          "nobody+janesmith@stripe.com", "site@stripe.com"),
        "PHONE_NUMBER": ("+18008675309", "+1 555-555-5555", "+15555555555"),
        "ADDRESS": ("1234 Fake Street", "123 Fake St", "123 Main Street", "1234 Main St.",
                    "354 Oyster Point Blvd"),
    },
    "slack": {
        "PERSON": ("Egon Spengler", "Glinda Southgood", "Jane Doe", "Sonny Whether"),
        "EMAIL_ADDRESS": ("spengler@ghostbusters.example.com", "janedoe@example.com", "bront@slack.com"),
    },
    "github": {
        "EMAIL_ADDRESS": ("octokit-fixture-user-a@kytrinyx.com", "@users.noreply.github.com"),
    },
    "har": {"EMAIL_ADDRESS": ("@gmail.com",)},  # a real address typed into a captured page
}  # fmt: skip


def expected_entities(source: str, body: str) -> list[str]:
    """Entities a payload's example personal data should raise (empty: a clean payload).

    >>> expected_entities("slack", '{"user": {"real_name": "Egon Spengler"}}')
    ['PERSON']
    """
    examples = EXAMPLE_DATA.get(source, {})
    return sorted(e for e, values in examples.items() if any(v in body for v in values))


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
            method, url, content_type, body, headers = items[i]
            out.append(base | {"collection": source.split, "method": method, "url": url,
                               "content_type": content_type, "body": body,
                               "headers": [list(h) for h in headers]})  # fmt: skip
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
    if (args.out / "clean").is_dir():
        print(f"labels -> {write_expected(args.out)}", file=sys.stderr)


if __name__ == "__main__":
    main()
