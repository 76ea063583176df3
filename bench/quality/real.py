"""Real public text and real clean API payloads, as the proxy would see them.

    texts = load_texts([DATA, Path("/tmp/real-local")])      # later folders win per source
    sample = wrap_text(texts[0], 0)   # RealSample(request=RawRequest(...), gold=(...), ...)

Labelled sentences (``data/text/*.jsonl``, built by ``vendor.py``) are wrapped the
way real traffic carries text: a chat message (JSON), a form field, a mail sent
through a mail API, an LLM chat-completion prompt (chosen by the sentence's index).
Extraction then runs as for any request, and the sentence's gold spans are moved
into the segment that carries it. Clean payloads (``data/clean/*.jsonl``) are
requests as recorded; a few carry example personal data on purpose (a docs sample
``Jenny Rosen``): those are listed in ``data/clean/expected.json`` with the entity
they should raise, and are scored apart from the clean ones.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from detectors.model import Segment
from proxy.extraction.extract import Limits, RawRequest, extract

DATA = Path(__file__).resolve().parent / "data"
ENTITIES = frozenset({"PERSON", "ADDRESS", "NEUTRAL"})  # NEUTRAL: undecided, not scored
CARRIERS = ("chat", "form", "mail", "llm")


@dataclass(frozen=True)
class Text:
    id: str
    source: str
    lang: str
    text: str
    spans: tuple[tuple[str, int, int], ...]
    split: str = "test"  # "dev": scored in its own groups (never tuned on); "test": report it


@dataclass(frozen=True)
class Payload:
    id: str
    source: str
    collection: str  # "dev" or "test" (report it)
    request: RawRequest
    expected: tuple[str, ...] = ()  # entities a kept example value should raise


@dataclass(frozen=True)
class RealSample:
    """One wrapped sentence: its request, and where the sentence sits after extraction."""

    text: Text
    carrier: str
    request: RawRequest
    segments: tuple[Segment, ...]
    segment: int  # index of the segment carrying the sentence
    offset: int  # where the sentence starts in that segment
    gold: tuple[tuple[str, int, int], ...]  # spans in segment coordinates


def _jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _files(folders: Iterable[Path], kind: str, sources: Sequence[str] = ()) -> dict[str, Path]:
    """``source name -> file``; a later folder's file replaces an earlier one's."""
    found: dict[str, Path] = {}
    for folder in folders:
        for path in sorted((folder / kind).glob("*.jsonl")):
            if not sources or path.stem in sources:
                found[path.stem] = path
    return found


def load_texts(folders: Iterable[Path], sources: Sequence[str] = (), split: str = "") -> list[Text]:
    """Every sentence of the sources found (``split``: only that split, "" both)."""
    texts = []
    for path in _files(folders, "text", sources).values():
        for row in _jsonl(path):
            if split and row["split"] != split:
                continue
            spans = tuple((e, s, t) for e, s, t in row["spans"])
            texts.append(Text(row["id"], row["source"], row["lang"], row["text"], spans, row["split"]))  # fmt: skip
    return texts


def load_payloads(
    folders: Iterable[Path], sources: Sequence[str] = (), collection: str = ""
) -> list[Payload]:
    folders = list(folders)
    expected: dict[str, list[str]] = {}
    for folder in folders:
        path = folder / "clean" / "expected.json"
        if path.exists():
            expected |= {k: v["entities"] for k, v in json.loads(path.read_text()).items()}
    payloads = []
    for path in _files(folders, "clean", sources).values():
        for row in _jsonl(path):
            if collection and row["collection"] != collection:
                continue
            headers = tuple((k, v) for k, v in row.get("headers", ()))
            if row["content_type"] and not any(k.lower() == "content-type" for k, _ in headers):
                headers += (("content-type", row["content_type"]),)
            request = RawRequest(row["method"], row["url"], headers, row["body"].encode())
            payloads.append(
                Payload(row["id"], row["source"], row["collection"], request,
                        tuple(expected.get(row["id"], ())))
            )  # fmt: skip
    return payloads


def request_for(text: Text, carrier: str) -> RawRequest:
    """``text`` sent as ``carrier`` ("chat", "form", "mail", "llm")."""
    if carrier == "chat":
        body = {"channel": "C024BE91L", "text": text.text, "unfurl_links": False}
        return _json("https://slack.com/api/chat.postMessage", body)
    if carrier == "form":
        form = {"subject": "feedback", "message": text.text, "submit": "1"}
        return RawRequest(
            "POST", "https://forms.example.com/contact",
            (("content-type", "application/x-www-form-urlencoded"),), urlencode(form).encode(),
        )  # fmt: skip
    if carrier == "mail":
        body = {"personalizations": [{"to": [{"email": "team@example.com"}]}],
                "from": {"email": "noreply@example.com"}, "subject": "FW: note",
                "content": [{"type": "text/plain", "value": text.text}]}  # fmt: skip
        return _json("https://api.sendgrid.com/v3/mail/send", body)
    if carrier == "llm":
        ask = "请总结下面这段话：\n" if text.lang == "zh" else "Summarise the following:\n"
        body = {"model": "gpt-4o", "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": ask + text.text}]}  # fmt: skip
        return _json("https://api.openai.com/v1/chat/completions", body)
    raise ValueError(f"unknown carrier {carrier!r}")


def _json(url: str, body: object) -> RawRequest:
    data = json.dumps(body, ensure_ascii=False).encode()
    return RawRequest("POST", url, (("content-type", "application/json"),), data)


def wrap_text(text: Text, index: int) -> RealSample:
    """Wrap, extract, and find the sentence among the segments (it must be there whole)."""
    carrier = CARRIERS[index % len(CARRIERS)]
    request = request_for(text, carrier)
    segments = extract(request, Limits()).segments
    for i, segment in enumerate(segments):
        offset = segment.text.find(text.text)
        if offset >= 0:
            gold = tuple((e, s + offset, t + offset) for e, s, t in text.spans)
            return RealSample(text, carrier, request, segments, i, offset, gold)
    raise AssertionError(f"{text.id}: the sentence is in no segment of its {carrier} request")
