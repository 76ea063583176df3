"""Readers of clean API payload sources: a file's text -> (method, url, content type,
body, headers), and the example personal data some of them carry on purpose.

    >>> next(read_stripe('{"resources": {"coupon": {"id": "co_1"}}}'))[:2]
    ('POST', 'https://api.stripe.com/v1/coupons')
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

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
