"""The prefilter's copy of the name rules' cue words stays complete.

detectors/prefilter.py runs in the proxy process, which must not import jieba (so not
detectors/recognizers/person.py): it keeps its own copy of the roles before a name and the
words after one. A word person.py gained and the copy lacks finds nothing in real traffic (the
request never reaches the rule: session 22 found its new roles so), unless a text is long enough
for another signal. Each cue is tried here in a text too short for any other signal.
"""

from __future__ import annotations

import re

import pytest

from detectors.prefilter import Prefilter
from detectors.recognizers import person

NAME = "张三"


def words(pattern: str) -> list[str]:
    """The alternatives of a cue pattern, as text: ``说[，,：:]`` is ``说，``."""
    bare = pattern.removeprefix("(?:").removesuffix(")")
    return [re.sub(r"\[(.)[^]]*\]", r"\1", w) for w in bare.split("|")]


ROLES = words(person.ROLES)
AFTER = words(person.SPEECH_AFTER.pattern) + words(person.PARTY_AFTER.pattern)


@pytest.fixture(scope="module")
def prefilter() -> Prefilter:
    return Prefilter(ner=True)


def test_a_name_alone_has_no_rule_signal(prefilter):
    assert not prefilter.person_by_rule(NAME)
    assert len(ROLES) > 80 and "国务卿" in ROLES and "说，" in AFTER


@pytest.mark.parametrize("role", ROLES)
def test_every_role_before_a_name_reaches_the_rule(prefilter, role):
    assert prefilter.person_by_rule(role + NAME)


@pytest.mark.parametrize("word", AFTER)
def test_every_word_after_a_name_reaches_the_rule(prefilter, word):
    assert prefilter.person_by_rule(NAME + word)
