"""English names in running text, session 22 (issue 13): short ticket lines reach the name
rules, surnames no list holds as a clause's subject about a person, and the other items of a
list that holds a full name. Sentences written for this file (never from a corpus split or
the tuning set); through the shared Detector, as a request's text would go.
"""

from __future__ import annotations

import re

import pytest
from detection_support import detect

from detectors.en_names import list_mates, novel_subject, unlisted
from detectors.prefilter import worth_ner

THRESHOLD = 0.5  # the policies' default min_score


def values(text: str) -> list[str]:
    return [
        text[f.start : f.end] for f in detect(text) if f.entity == "PERSON" and f.score >= THRESHOLD
    ]


# A short line: a capitalised word, an owner's 's or a lower-case word, then one more.
SHORT_LINES = [
    ("Hernandez's laptop is broken.", True),
    ("Okafor approved the refund.", True),
    ("Invalid token", False),
    ("Retry later", False),
    ("SKU-00001 129.00", False),
]


@pytest.mark.parametrize(("text", "prose"), SHORT_LINES)
def test_short_line_is_prose(text, prose):
    assert worth_ner(text) is prose


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hernandez's laptop is broken.", ["Hernandez"]),
        ("Okafor approved the refund.", ["Okafor"]),
    ],
)
def test_short_line_surname_found(text, expected):
    assert values(text) == expected


# A word no list holds, as the subject of a clause about a person (a pronoun follows).
NOVEL_SUBJECTS = [
    ("Szczepanik approved the refund for his team.", ["Szczepanik"]),
    ("After the call, Adebayo said she would send the form.", ["Adebayo"]),
    ("Oyelaran's manager asked for his contract.", ["Oyelaran"]),
]


@pytest.mark.parametrize(("text", "expected"), NOVEL_SUBJECTS)
def test_novel_subject_found(text, expected):
    assert values(text) == expected


# The same shape about a company, a product or a place: no personal pronoun, or a verb
# that is no clause's, or a word of the lists.
NOVEL_NOT_NAMES = [
    "Grafana restarted the pod and it recovered.",
    "Datadog acquired the startup last year.",
    "Kubernetes was upgraded; its nodes drained.",
    "Bandarlapalle is a village near the river.",
    "Still waiting for his reply.",
]


@pytest.mark.parametrize("text", NOVEL_NOT_NAMES)
def test_novel_subject_not_found(text):
    assert values(text) == []


def test_novel_subject_span():
    text = "Zbigniewski signed his form."
    match = re.match(r"\w+", text)
    assert match is not None
    assert novel_subject(text, match) == (0, 11)
    assert novel_subject(text, match, places_read=[(0, 11)]) is None


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("Szczepanik", True),
        ("Search", False),
        ("Garcia", False),
        ("Emily", False),
        ("Texas", False),
    ],
)
def test_unlisted(word, expected):
    assert unlisted(word) is expected


# The other items of a list that holds a full name.
LISTS = [
    (
        "The panel was Marta Kowalska, Zbigniew Wrona and Oyelaran.",
        [(14, 28)],
        ["Zbigniew Wrona", "Oyelaran"],
    ),
    ("Invited: Tomasz Nowak, Boston University and Canada.", [(9, 21)], []),
    ("They moved to Caernarfon and Tomasz Nowak stayed.", [(29, 41)], []),
    ("Ann Lee, SHURE, Dec and Laboratory", [(0, 7)], []),
    ("Nowak and Wrona", [(0, 5)], []),  # one word: no full name's list
]


@pytest.mark.parametrize(("text", "found", "expected"), LISTS)
def test_list_mates(text, found, expected):
    assert [text[a:b] for a, b in list_mates(text, found)] == expected
