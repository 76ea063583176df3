"""English names in running text, session 21 (issue 13, N11): a surname alone as a clause's
subject, the parts of a name the text already named, and countries and US states that the
model or the surname list would read as people. Sentences written for this file (never from
a corpus split or the tuning set); the rules alone (detectors.en_names) and through the
shared Detector (the model's guesses joined with them in detectors.nlp.people).
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from detection_support import detect

from detectors.en_names import (
    beside_a_place,
    common_word,
    en_names,
    names_a_thing,
    places,
    repeated_parts,
    surnames,
)

THRESHOLD = 0.5  # the policies' default min_score


def names(text: str) -> list[str]:
    return [text[a:b] for a, b in en_names(text)]


def people(text: str) -> list[str]:
    found = detect(text)
    return [text[f.start : f.end] for f in found if f.entity == "PERSON" and f.score >= THRESHOLD]


# A census surname alone is a name where a verb or an owner's 's makes it the subject.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hernandez was promoted to the night shift.", ["Hernandez"]),
        ("The board said Kowalski had signed the lease.", ["Kowalski"]),
        ("We met at Gonzalez's office on Monday.", ["Gonzalez"]),
        ("Later that day Thompson joined the call.", ["Thompson"]),
        ("The shipment is late, said Hernandez.", ["Hernandez"]),
        ("According to Kowalski, the invoice was paid twice.", ["Kowalski"]),
    ],
)
def test_a_surname_as_a_subject_is_a_name(text, expected):
    assert names(text) == expected


# ...and nothing else: no verb after it, a plural noun after it, a common word that is a
# surname too (the list leaves those out), a country or state, after an article or in a
# capitalised run, joined by "and" (a firm's name).
@pytest.mark.parametrize(
    "text",
    [
        "Hernandez Street is closed for repairs.",
        "The Kowalski report is attached.",
        "Price was updated for all plans.",
        "Service was restarted at 02:00.",
        "Sales were up 5% this quarter.",
        "Jordan's queen opened the summit.",
        "Washington announced new tariffs.",
        "English painters of the period",
        "Johnson and Johnson shares fell.",
        "Lyndon Thompson's memoir",
        "The report said Hernandez Street floods.",  # a street's name, not the speaker
    ],
)
def test_no_lone_surname(text):
    assert [w for w in names(text) if " " not in w and w in surnames()] == []


def test_the_surname_list_holds_no_common_word_place_or_first_name():
    family = surnames()
    assert {"Hernandez", "Kowalski", "Thompson", "Gonzalez"} <= family
    assert not {"Price", "Stone", "Young", "Wells", "Canada", "Jordan", "Washington"} & family
    assert not {"James", "Thomas", "Hoyt"} & family - {"Hoyt"}  # first names are not here


# Once a name with a known first name is found, its parts alone elsewhere in the text
# are the same person (the surname would go out in clear).
def test_the_parts_of_a_name_found_are_the_same_person():
    text = "Angela Merriweather called about the refund. Merriweather said Angela will call back."
    assert [text[a:b] for a, b in repeated_parts(text, [(0, 19)])] == ["Merriweather", "Angela"]


@pytest.mark.parametrize(
    ("text", "spans"),
    [
        ("Luigi Moretti founded Moretti Brothers in 1898.", [(0, 13)]),  # a firm's head word
        ("Luigi Moretti met Anna Moretti there.", [(0, 13)]),  # inside another's name
        ("Luigi Moretti sent the Moretti-Key header.", [(0, 13)]),  # glued to a token
        ("Ortiz Moretti met Moretti.", [(0, 13)]),  # no known first name opens it
    ],
)
def test_no_part_read_where_it_is_another_thing(text, spans):
    assert repeated_parts(text, spans) == []


def test_a_repeated_surname_through_the_detector():
    text = "Please call Angela Merriweather about the invoice; Merriweather approved the refund."
    assert people(text) == ["Angela Merriweather", "Merriweather"]


# The model's one-word guesses that are a country's or a state's name are places.
@pytest.mark.parametrize(
    "text",
    [
        "She was born in Little Falls, Minnesota and moved to Denver.",
        "The order ships from Portugal to Angola next week.",
    ],
)
def test_countries_and_states_are_no_names(text):
    assert not set(people(text)) & places()


def test_the_places_copy_equals_the_installed_phonenumbers_list():
    from phonenumbers.geodata.locale import LOCALE_DATA

    def english(names: dict[str, str]) -> str:
        name = names.get("en", "")
        while name.startswith("*"):
            name = names.get(name[1:], "")
        return name

    countries = {english(names) for names in LOCALE_DATA.values()} - {""}
    assert countries <= places(), "regenerate detectors/data/en_places.txt (see its header)"
    assert len(places() - countries) == 53  # 4 nations of the UK, 50 US states less Georgia


def test_reading_the_lists_does_not_import_the_geocoding_tables():
    code = (
        "import sys; from detectors.en_names import places, surnames; places(); surnames(); "
        "print('phonenumbers.geodata' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# The last part of a place written as in an address is no name; a list of people is not
# such a place even where the model read one of them as a place.
@pytest.mark.parametrize(
    ("text", "word", "places_read", "expected"),
    [
        ("She grew up in Klungkung, Bali.", "Bali", ["Klungkung"], True),
        ("The depot moved to Trosten, England in 1945.", "Trosten", [], True),
        ("Talks with Sattler, Maumill, Mabury and Newman ran late.", "Maumill", ["Sattler"], False),
        ("After seasons in Ottawa and Halifax, Cowley broke in.", "Cowley", ["Halifax"], False),
        ("Call Kowalski, Texas Instruments sales rep.", "Kowalski", [], False),
        ("Signed by Dorothy, England's envoy.", "Dorothy", [], False),  # a known first name
    ],
)
def test_beside_a_place(text, word, places_read, expected):
    start = text.index(word)
    read = [(text.index(p), text.index(p) + len(p)) for p in places_read]
    assert beside_a_place(text, start, start + len(word), read) is expected


# A model's guess that is one common English word, or ends in one with no known first name
# before it, names a thing, a work or a band; census surnames and first names are no such
# words (the list leaves them out), so people whose names are words stay names.
@pytest.mark.parametrize(
    ("guess", "expected"),
    [
        ("Laboratory", True),
        ("Remembrance", True),
        ("Waldorf Salad", True),
        ("Tangerine Dream", True),
        ("Comfort Bikes", True),
        ("Emma Stone", False),
        ("Stone", False),
        ("Bill Gates", False),
        ("Joy Young", False),
        ("Angela Merriweather", False),
        ("Wang Fang", False),
    ],
)
def test_a_guess_that_names_a_thing(guess, expected):
    assert names_a_thing(guess) is expected


def test_the_word_list_leaves_out_surnames_and_first_names():
    assert [common_word(w) for w in ("Chaos", "Stone", "Price", "Young", "Emily", "Garcia")] == [
        True,
        False,
        False,
        False,
        False,
        False,
    ]


def test_a_common_word_after_a_title_is_no_name():
    assert names("They lost to the video for Miss Murder in the final.") == []
    assert names("They lost to Miss Moretti in the final.") == ["Moretti"]
