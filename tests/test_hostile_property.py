"""Property: a valid resident ID, mobile or card, pushed through any chain of the encodings a
receiver can undo, is still found by extraction + the real detector.

Values are generated valid (ISO 7064 MOD 11-2 IDs with a real birth date and province, Luhn
cards, allocated mobile prefixes) with a label in front ("身份证号 ...") the way a form or a
letter writes them; the label goes through the same chain. A chain mixes text steps (NUL or
soft-hyphen separation, combining marks on digits, Arabic-Indic digits, HTML entities, \\u escapes, JSON inside a string, percent, double
percent, base64, base64url) and charset steps (UTF-16LE/BE, UTF-32 without a BOM, GB18030,
UTF-8) whose bytes are then percent or base64 encoded, or sent as the body itself.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from collections.abc import Callable
from urllib.parse import quote

from detection_support import shared_detector
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stdnum import luhn
from stdnum.iso7064 import mod_11_2

from detectors.normalize import normalize
from detectors.recognizers.cn_resident_id import PROVINCES
from proxy.extraction.extract import Limits, RawRequest, extract

URL = "https://api.example.com/upload"
LIMITS = Limits(max_body_bytes=1 << 20, max_decoded_bytes=4 << 20, max_depth=12)


# ---------------------------------------------------------------- valid values


@st.composite
def resident_ids(draw) -> str:
    province = draw(st.sampled_from(sorted(PROVINCES - {"71", "81", "82", "83"})))
    region = draw(st.from_regex(r"\A[0-9]{4}\Z"))
    born = draw(st.dates(dt.date(1930, 1, 1), dt.date(2008, 12, 31)))
    sequence = draw(st.from_regex(r"\A[0-9]{3}\Z"))
    body = province + region + born.strftime("%Y%m%d") + sequence
    return body + mod_11_2.calc_check_digit(body)


# Prefixes in use for mainland mobiles (MIIT allocations).
MOBILE_PREFIXES = (
    "130",
    "131",
    "133",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "155",
    "156",
    "157",
    "158",
    "159",
    "166",
    "176",
    "177",
    "180",
    "181",
    "185",
    "186",
    "187",
    "188",
    "189",
    "191",
    "198",
    "199",
)


@st.composite
def mobiles(draw) -> str:
    return draw(st.sampled_from(MOBILE_PREFIXES)) + draw(st.from_regex(r"\A[0-9]{8}\Z"))


@st.composite
def cards(draw) -> str:
    length = draw(st.integers(16, 19))
    body = "62" + draw(st.from_regex(rf"\A[0-9]{{{length - 3}}}\Z"))
    return body + luhn.calc_check_digit(body)


# (entity, label written before the value, values)
KINDS = (
    ("CN_RESIDENT_ID", "身份证号 ", resident_ids()),
    ("PHONE_NUMBER", "手机号码 ", mobiles()),
    ("CREDIT_CARD", "银行卡号 ", cards()),
)


# ---------------------------------------------------------------- encodings


def pct(data: bytes) -> str:
    """Every byte escaped, digits too (what evasion tools do)."""
    return "".join(f"%{b:02X}" for b in data)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


# How the digits themselves are written: first, on the value in clear (a digit written as ٣
# inside base64 text is not base64 to any receiver).
DIGIT_FORMS: dict[str, Callable[[str], str]] = {
    "ascii-digits": str,
    "marks-on-digits": lambda t: re.sub("([0-9])", "\\1\u0301", t),
    "arabic-indic-digits": lambda t: re.sub("[0-9]", lambda m: chr(0x0660 + int(m.group())), t),
}
TEXT_STEPS: dict[str, Callable[[str], str]] = {
    "nul-separated": "\x00".join,
    "soft-hyphen-separated": "\u00ad".join,
    "html-entities": lambda t: "".join(f"&#{ord(c)};" for c in t),
    "html-hex-entities": lambda t: "".join(f"&#x{ord(c):x};" for c in t),
    "u-escapes": lambda t: "".join(f"\\u{ord(c):04x}" for c in t),
    "json-in-string": lambda t: json.dumps({"data": t}, ensure_ascii=False),
    "percent": lambda t: pct(t.encode()),
    "double-percent": lambda t: quote(pct(t.encode()), safe=""),
    "base64": lambda t: b64(t.encode()),
    "base64url": lambda t: b64url(t.encode()),
}
CHARSETS = ("utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be", "gb18030", "utf-8")
BYTE_STEPS: dict[str, Callable[[bytes], str]] = {
    "percent": pct,
    "base64": b64,
    "base64url": b64url,
}


@st.composite
def encoded(draw) -> tuple[str, str, RawRequest, tuple[str, ...]]:
    """(entity, value, request, steps)."""
    entity, label, values = draw(st.sampled_from(KINDS))
    value = draw(values)
    form = draw(st.sampled_from(sorted(DIGIT_FORMS)))
    carried: str | bytes = label + DIGIT_FORMS[form](value)
    steps: list[str] = [form]
    for _ in range(draw(st.integers(1, 4))):
        if draw(st.booleans()):
            name = draw(st.sampled_from(sorted(TEXT_STEPS)))
            carried = TEXT_STEPS[name](carried)
        else:
            charset = draw(st.sampled_from(CHARSETS))
            data = carried.encode(charset)
            name = draw(st.sampled_from(sorted(BYTE_STEPS) + ["as-body"]))
            if name == "as-body":
                steps.append(charset)
                return entity, value, _body("text/plain", data), tuple(steps)
            carried = BYTE_STEPS[name](data)
            name = f"{charset}+{name}"
        steps.append(name)
    carrier = draw(st.sampled_from(["json", "form", "text", "query"]))
    steps.append(carrier)
    if carrier == "query":
        return (
            entity,
            value,
            RawRequest("GET", URL + "?data=" + quote(carried, safe="")),
            tuple(steps),
        )
    if carrier == "json":
        return (
            entity,
            value,
            _body("application/json", json.dumps({"data": carried}).encode()),
            tuple(steps),
        )
    if carrier == "form":
        form = "data=" + quote(carried, safe="")
        return (
            entity,
            value,
            _body("application/x-www-form-urlencoded", form.encode()),
            tuple(steps),
        )
    return entity, value, _body("text/plain; charset=utf-8", carried.encode()), tuple(steps)


def _body(content_type: str, data: bytes) -> RawRequest:
    return RawRequest("POST", URL, (("content-type", content_type),), data)


# ---------------------------------------------------------------- the property


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(encoded())
def test_any_chain_of_encodings_is_seen_through(case):
    entity, value, request, steps = case
    extraction = extract(request, LIMITS)
    findings = shared_detector().analyze(extraction.segments)
    # the value itself was found (its characters, separators dropped), as the right entity
    found = {(f.entity, _plain(f.value)) for f in findings}
    assert (entity, value) in found, (steps, sorted(e for e, _ in found))


def _plain(text: str) -> str:
    return "".join(ch for ch in normalize(text).text if ch.isalnum())


CLEAR = st.one_of(*(values.map(lambda v, e=e, lab=label: (e, lab + v)) for e, label, values in KINDS))


@settings(max_examples=60, deadline=None)
@given(CLEAR)
def test_generated_values_are_found_in_clear(case):
    """Else the property above would prove nothing."""
    entity, text = case
    findings = shared_detector().analyze(
        extract(_body("text/plain", text.encode()), LIMITS).segments
    )
    assert entity in {f.entity for f in findings}
