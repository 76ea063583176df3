r"""Readers of labelled corpora: a file's text -> (sentence, [[entity, start, end], ...]).

    >>> next(read_wnut("Ann\tB-person\nLee\tI-person\nran\tO\n"))
    ('Ann Lee ran', [['PERSON', 0, 7]])

Each corpus keeps its own conventions (BIO, BMES, IOB2 with the original text, GUM's
entity brackets); the docstrings say what counts as a name or an address there.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator


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
# and the test split (report it) get different sentences, so rules fitted to the dev
# sentences (which happened: SOURCES.md) do not fit the test ones.
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
