"""English names in prose found by their shape, where the NER model saw none.

    >>> [text[a:b] for text in ["Later Victor Wooten joined the band."] for a, b in en_names(text)]
    ['Victor Wooten']

A known first name (``data/en_first_names.txt``, the 1990 US Census lists) followed by a
capitalised word, optionally with a middle initial (``Raymond E. Feist``), is a name, and
so is one alone as the subject or owner of a clause (``Carter began``, ``Ilona's``), and
the words after a title or rank (``Colonel Jesse Auton``, ``Mr. Thomas D. Green``),
unless structure says otherwise:

- the first name is also a common word or a place (``May``, ``Will``, ``Grant``, ``Rose``,
  ``Georgia``, ``Santa``): such names are found only with a title or a label
  (``recognizers/person.py``);
- the second word is a role, organisation, street or technical word
  (``person.en_words_ok``: ``Jordan River``, ``Victoria Station``, ``Content-Type``);
- a place's or organisation's head word follows (``George Washington University``,
  ``Sandy River Railroad``);
- the words are part of a header name or an identifier (``X-Ray-Id``, ``Grace_Hopper``).

A census surname (``data/en_surnames.txt``: no common word, place or first name) alone is
a name only as a clause's subject or owner (``Carder was``, ``Hitzig's work``), never where
the model read the word as a place (``Boston would not win``). Once a name that opens with
a known first name is found, its first and last words alone elsewhere in the same window
are that person too (``Louis Malle ... Malle's film``: ``repeated_parts``). A model's
one-word guess that is a country's or a US state's name (``data/en_places.txt``), the last
part of a place written as in an address (``Klungkung, Bali.``), or a common English word
(``data/en_words.txt``: ``Laboratory``; ``Waldorf Salad`` without a first name) is none.

A capitalised word no list holds (no common word, name or place: ``Citrone``) is a name
only as a clause's subject with a personal pronoun later in its clause (``Citrone denied
his involvement``: ``novel_subject``); a list that holds a full name holds people
(``Jacob Lipski and Marjania Zaluska``: ``list_mates``).

Read by ``nlp.people`` on the windows the model reads (prose only), so a request without
prose pays nothing; the spans join the model's guesses and are filtered as they are.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from importlib import resources

from detectors.model_names import (
    NEXT_LOWER,
    SUBJECT_NEXT,
    first_names,
    lower_word_not_subject,
    sentence_start,
    verb_shaped,
)
from detectors.recognizers.person import (
    EN_NOT_NAMES,
    HEADS,
    NEXT_WORD,
    PRODUCT_HEADS,
    en_words_ok,
)

# Capitalised words: letters of any script after a capital (Miličević, Díaz), inner
# apostrophes and hyphens (O'Neil, Mary-Jane); not after a character that glues it to a
# token (an e-mail, a path, a header name, a hashtag).
WORD = r"[A-Z](?:['’](?=[A-Z]))?[^\W\d_]+(?:['’][A-Z][^\W\d_]+|-[A-Z]?[^\W\d_]+)*"
START = re.compile(rf"(?<![\w@#/.'’-]){WORD}")
PAIR = re.compile(rf"(?P<first>{WORD}) (?:[A-Z]\. )?(?P<last>{WORD})(?![\w@/-])")
# Before a first name, what makes it a place's or a thing's name: San Jose, St. Louis,
# Mount Vernon, the Alfred Phillips House.
PLACE_BEFORE = re.compile(r"(?:\b(?:San|Santa|Sta|St|Saint|Mount|Mt|Fort|Port|New|the|The)\.?) $")


# A first name on its own is a name as the subject or owner of a clause (Carter began,
# Ilona's lover): a lower-case word or a possessive follows, and no article or place
# preposition comes before (in Florence, the Harrison extension).
LONE_AFTER = re.compile(r"(?:['’]s\b| [a-z]{2,})")
_NOT_BEFORE_LONE = "in at from to of near into on via across the The a an"
NOT_BEFORE_LONE = frozenset(_NOT_BEFORE_LONE.split())
ARTICLES = frozenset(["the", "The", "a", "an"])
PREVIOUS_WORD = re.compile(r"(\S+)\s+$")
# After a title the person is certain: a preposition may follow the name too (Mr. Rohatgi in).
_PREPOSITIONS = "in at of on from with for to by as into about after before"
PREPOSITIONS = frozenset(_PREPOSITIONS.split())
# Words no name holds, capitalised only in a headline's title case (Lord Of The Rings,
# Senator Says Budget Will Pass).
_FUNCTION_WORDS = "Of The A An And Or In On At To For With By From As Is Are Was Were Will Be"
FUNCTION_WORDS = frozenset(_FUNCTION_WORDS.split())
LINE_WORD = re.compile(r"[^\W\d_][\w'’-]*")
CLAUSE_END = re.compile(r"[,;:()!?\n]|\.(?:\s|$)")


# Titles and ranks before a name (Colonel Jesse Auton, Governor Bob Wise, Mr. Thomas D.
# Green). A strong one makes the next capitalised word a name; a weak one, which also
# starts other things' names (General Motors, Director General, Father Christmas), only
# a known first name and one more word.
_STRONG_TITLES = (
    "Mr Mrs Ms Miss Mx Dr Prof Sir Dame Lord Lady Colonel Col Captain Capt Lieutenant Lt "
    "Sergeant Sgt Governor Gov Senator Sen Coach Judge Bishop Reverend Rev Professor "
    "Detective Inspector Mayor President Congressman Congresswoman"
)
_WEAK_TITLES = "General Major Director Secretary Minister Father Chief Officer Engineer Justice"
STRONG_TITLES = frozenset(_STRONG_TITLES.split())
TITLES = STRONG_TITLES | frozenset(_WEAK_TITLES.split())
TITLED = re.compile(
    rf"(?P<title>[A-Z][a-z]+)\.? (?P<name>{WORD}(?: (?:[A-Z]\.? )?{WORD}){{0,2}}|{WORD} [A-Z]\.)"
    rf"(?![\w@/-])"
)


def titled_names(text: str) -> list[tuple[int, int]]:
    """Names after a title or rank (``TITLES``).

    >>> text = "Colonel Clay Tice Jr., Mr. Thomas D. Green and General Motors; Miss Murder"
    >>> [text[a:b] for a, b in titled_names(text)]
    ['Clay Tice', 'Thomas D. Green']
    """
    found = []
    for match in TITLED.finditer(text):
        title, name = match.group("title"), match.group("name").rstrip(".")
        if title not in TITLES:
            continue
        words = name.split()
        if title not in STRONG_TITLES and (len(words) < 2 or words[0] not in first_names()):
            continue  # General Motors, Major League Baseball
        if any(word in FUNCTION_WORDS for word in words):
            continue  # Lord Of The Rings, Senator Says Budget Will Pass: a title's case
        if title_cased(text, match) and words[0] not in first_names():
            continue  # Mayor Calls Emergency Meeting, Coach Outlet Opens Downtown
        while words and (words[-1].rstrip(".") in ("Jr", "Sr") or words[-1] in HEADS):
            words.pop()
        if not words or not en_words_ok(" ".join(words)) or words[0] in TITLES:
            continue
        end = match.start("name") + len(" ".join(words))
        after = NEXT_WORD.match(text, end)
        if after is not None and after.group(1) in HEADS:
            continue
        if len(words) == 1 and not after_one_word_ok(text, end):
            continue  # Captain Crunch cereal: a product's name
        if len(words) == 1 and common_word(words[0]):
            continue  # Miss Murder (a song), Mr Bodyboarding: a thing's or a work's name
        found.append((match.start("name"), end))
    return found


def title_cased(text: str, match: re.Match[str]) -> bool:
    """Four or more capitalised words, and no lower-case one, in the title's clause: a
    headline, where only a known first name opens a name (Mayor Calls Emergency Meeting;
    not Captain Newell H. Beaty, 8 April 1957, nor named after Bishop Phillip Joseph Garrigan).

    >>> [bool(titled_names(t)) for t in ("Mayor Calls Emergency Meeting", "Mr. Thomas Lee Young")]
    [False, True]
    """
    ends = [m.end() for m in CLAUSE_END.finditer(text, 0, match.start())]
    before = text[ends[-1] if ends else 0 : match.start("name")]
    clause = before + CLAUSE_END.split(text[match.start("name") :], maxsplit=1)[0]
    words = [w for w in LINE_WORD.findall(clause) if len(w) > 1 and w not in ("Jr", "Sr")]
    return len(words) >= 4 and all(w[0].isupper() for w in words)


def after_one_word_ok(text: str, end: int) -> bool:
    """One word after a title is a name unless a lower-case word that says nothing of a
    person follows (Captain Crunch cereal; Judge Jones noted, Mr. Kim in, Dr Harthoorn's)."""
    after = NEXT_LOWER.match(text, end)
    return after is None or after.group(1) in PREPOSITIONS or not lower_word_not_subject(text, end)


def en_names(text: str, places_read: Sequence[tuple[int, int]] = ()) -> list[tuple[int, int]]:
    """``(start, end)`` of each name by the rules above; ``places_read``: spans the model read as
    places, where a lone surname is the place's name (Boston would not win, London needs).

    >>> en_names("Jordan River and George Washington University, as Raymond E. Feist said")
    [(50, 66)]
    >>> en_names("May Lee met Will Smith in Georgia Tech"), en_names("the Grace-Hopper-Key")
    ([], [])
    >>> en_names("Carter began at nine; in Florence, Ilona's lover"), en_names("to Harrison in June")
    ([(0, 6), (35, 40)], [])
    """
    known, family = first_names(), surnames()
    found: list[tuple[int, int]] = []
    for word in START.finditer(text):
        if found and word.start() < found[-1][1]:
            continue
        if word.group(0) not in known and word.group(0) not in family:
            if (span := novel_subject(text, word, places_read)) is not None:
                found.append(span)
            continue
        if PLACE_BEFORE.search(text, max(0, word.start() - 7), word.start()):
            continue
        if word.group(0) in known:
            span = full_name(text, word.start())
            if span is None and word.group(0) not in places():  # Sandy Hook, Maryland
                span = lone_name(text, word)
        elif not any(a < word.end() and word.start() < b for a, b in places_read):
            span = lone_surname(text, word)
        else:
            continue
        if span is not None:
            found.append((span[0], rest_of_name(text, *span)))  # Marcus| du Sautoy
    titled = titled_names(text)
    return sorted(titled + [s for s in found if not any(a < s[1] and s[0] < b for a, b in titled)])


def full_name(text: str, start: int) -> tuple[int, int] | None:
    """A first name, maybe a middle initial, and a capitalised word that is no role,
    organisation, place, street or product word, not followed by a place's head word, a
    version (a package: Jackson Databind to 2.15) or a verb and ``its`` (an organisation:
    Morgan Stanley cut its forecast).

    >>> [full_name(t, 0) for t in ("Travis Build failed", "Jackson Core from 2.9", "Morgan Stanley cut its")]
    [None, None, None]
    """
    match = PAIR.match(text, start)
    if match is None:
        return None
    last = match.group("last")
    if last in EN_NOT_NAMES or last.isupper() or last in HEADS or last in PRODUCT_HEADS:
        return None
    if not en_words_ok(match.group(0)):
        return None
    after = NEXT_WORD.match(text, match.end())
    if after is not None and after.group(1) in HEADS:
        return None  # George Washington University
    if VERSION_AFTER.match(text, match.end()) or ORGANISATION_AFTER.match(text, match.end()):
        return None
    if names_a_kind(text, match.end()):
        return None  # Jasmine Karma tests are green: test tools
    return match.span()


def model_guess(
    text: str, start: int, end: int, places_read: Sequence[tuple[int, int]] = ()
) -> tuple[int, int] | None:
    """A model's English guess read as these rules read names: one that opens with a title
    or rank is the name ``titled_names`` finds after it, or none (Judge Rejects in a
    headline); one that names a kind of thing (``names_a_kind``) is none.

    >>> text = "Judge Rejects Appeal In Fraud Case; Colonel Jesse Auton said"
    >>> model_guess(text, 0, 13), model_guess(text, 36, 49), model_guess(text, 44, 55)
    (None, (44, 55), (44, 55))
    >>> model_guess("born in Little Falls, Minnesota", 22, 31)
    >>> model_guess("raised in Klungkung, Bali", 21, 25, [(10, 19)])
    >>> model_guess("The Laboratory has a new wing", 4, 14)
    """
    if names_a_kind(text, end) or placed(text, start, end) or text[start:end] in places():
        return None  # Dell Inspiron laptops are, near Ramla, Little Falls, Minnesota
    if beside_a_place(text, start, end, places_read):
        return None  # Klungkung, Bali; Trosten, England
    if names_a_thing(text[start:end]):
        return None  # Laboratory, Waldorf Salad, Tangerine Dream
    end = rest_of_name(text, start, end)
    first = text[start:end].split(" ", 1)[0].rstrip(".")
    if first not in TITLES:
        return start, end
    low = max(0, text.rfind("\n", 0, start) + 1)
    after = [(low + a, low + b) for a, b in titled_names(text[low : end + 80])]
    return next(((a, b) for a, b in after if a < end and start < b), None)


# The model often stops at a middle initial's dot or before a particle of the surname:
# James W|. Hoyt, Dorothea| von Schlegel, Marcus| du Sautoy. The surname would go out in clear.
AFTER_INITIAL = re.compile(rf"\.? (?:[A-Z]\. )*{WORD}(?![\w@/-])")
PARTICLE_NAME = re.compile(
    rf" (?:von|van|de|du|der|da|di|del|della|la|le|y)(?: der| la)? {WORD}(?![\w@/-])"
)
INITIAL_END = re.compile(r"(?:^|\s)[A-Z]\.?$")


def rest_of_name(text: str, start: int, end: int) -> int:
    """The end of a name the model cut at a middle initial or before a surname's particle.

    >>> text = "James W. Hoyt met Dorothea von Schlegel and John J. Brody"
    >>> [text[a:rest_of_name(text, a, b)] for a, b in ((0, 7), (18, 26), (44, 50), (44, 51))]
    ['James W. Hoyt', 'Dorothea von Schlegel', 'John J. Brody', 'John J. Brody']
    """
    if INITIAL_END.search(text, start, end) is not None:
        if (rest := AFTER_INITIAL.match(text, end)) is not None:
            return rest.end()
    elif (rest := PARTICLE_NAME.match(text, end)) is not None:
        return rest.end()
    return end


# Prepositions that place what follows them: one capitalised word after one is a place
# (Kopinga near Ramla, in Neumarkt). Not from, at, via: mail names people after them
# (a call from Garcia, notes from Nguyen, sent via Okafor), and a surname is no first name.
_PLACE_PREPOSITIONS = "in near into across"
PLACE_PREPOSITIONS = frozenset(_PLACE_PREPOSITIONS.split())


def placed(text: str, start: int, end: int) -> bool:
    """One word, no known first name, right after a preposition that places it, and not
    the owner of what follows (in Belgrano's camp, in Garcia's team: a person's).

    >>> text = "a cave near Ramla; Santorum in Iowa; talks with Santorum; in Okafor's team"
    >>> placed(text, 12, 17), placed(text, 31, 35), placed(text, 48, 56), placed(text, 61, 67)
    (True, True, False, False)
    """
    word = text[start:end]
    if " " in word or word in first_names() or text.startswith(("'s", "’s"), end):
        return False
    before = PREVIOUS_WORD.search(text, max(0, start - 40), start)
    return before is not None and before.group(1) in PLACE_PREPOSITIONS


# A place's name before or after a comma: the parts of an address in prose (Senlis, Oise;
# Trosten, England; Mostar, Bosnia). PREVIOUS_PLACE / NEXT_PLACE: the word or words there.
PREVIOUS_PLACE = re.compile(r"((?:[A-Z][^\W\d_]+ )*[A-Z][^\W\d_.]+), $")
NEXT_PLACE = re.compile(r", ((?:[A-Z][^\W\d_]+ )*[A-Z][^\W\d_]+)\b")


def beside_a_place(text: str, start: int, end: int, places_read: Sequence[tuple[int, int]]) -> bool:
    """Is ``text[start:end]``, with no known first name in it, the last part of a place
    written as in an address: after a comma and a country, a US state or what the model
    read as a place, at a clause's end (Klungkung, Bali.), or before a comma and a country
    or a US state where a preposition places it (in Trosten, England; ``headed_for``)?
    Not in a list of people the model partly read as places (Sattler, Maumill, Mabury; in
    Ottawa and Halifax, Cowley broke in).

    >>> text = "raised in Klungkung, Bali; born in Trosten, England; met Carter, Jones"
    >>> [beside_a_place(text, a, b, [(10, 19)]) for a, b in ((21, 25), (35, 42), (57, 63))]
    [True, True, False]
    >>> text = "hosted by Sattler, Maumill, Mabury"
    >>> beside_a_place(text, 19, 26, [(10, 17)])
    False
    """
    if text[start:end].split(" ", 1)[0] in first_names():
        return False
    after = NEXT_PLACE.match(text, end)
    if after is not None and after.group(1) in places() and headed_for(text, start):
        return True  # moved to Trosten, England; not Submitted by Hernandez, Mexico (R10)
    before = PREVIOUS_PLACE.search(text, max(0, start - 60), start)
    if before is None or CLAUSE_END_AFTER.match(text, end) is None:
        return False
    a, b = before.span(1)
    return text[a:b] in places() or any(a < y and x < b for x, y in places_read)


def headed_for(text: str, start: int) -> bool:
    """Does a preposition that places or moves (``TOWARDS``) come right before ``start``?
    A name before a comma and a country is a person's where nothing places it: a signature,
    a ticket's reporter, a list of country leads (Regards, Jansen, Netherlands).

    >>> text = "moved to Trosten, England; reported by Dmitri Volkov, Russia"
    >>> headed_for(text, 9), headed_for(text, 39)
    (True, False)
    """
    previous = PREVIOUS_WORD.search(text, max(0, start - 40), start)
    return previous is not None and previous.group(1) in TOWARDS


_TOWARDS = "in near into across at from to of around outside"
TOWARDS = frozenset(_TOWARDS.split())


# A clause's end right after the words (or the text's).
CLAUSE_END_AFTER = re.compile(r"\s*(?:[.;:)!?\n]|$)")


# A plural noun and a plural verb after the words: they say what kind of thing the noun is
# (Dell Inspiron laptops are on sale); a person's name takes a possessive there.
KIND_AFTER = re.compile(r" [a-z]{3,}s (?:are|were|have|do|can|will|would|should|must|may|might)\b")


def names_a_kind(text: str, end: int) -> bool:
    """Does a plural noun and a plural verb follow the words ending at ``end``?

    >>> names_a_kind("Dell Inspiron laptops are on sale", 13), names_a_kind("Ann Lee says we are", 7)
    (True, False)
    """
    return KIND_AFTER.match(text, end) is not None


# A version after the words: a package or a product (Jackson Databind to 2.15, v3.1).
VERSION_AFTER = re.compile(r" (?:(?:to|from|at|version|v)\s?)?v?\d+(?:\.\d+)+\b")
# A verb and "its" after the words: what owns its things is an organisation.
ORGANISATION_AFTER = re.compile(r" (?:[a-z]+ ){1,2}its\b")


def lone_name(text: str, word: re.Match[str]) -> tuple[int, int] | None:
    """A first name alone, as the subject or owner of a clause (``LONE_AFTER``), not
    inside a run of capitalised words; at a sentence's start only as a subject.

    >>> [lone_name(t, START.match(t)) for t in ("Grace period ends.", "Sue the vendor.")]
    [None, None]
    >>> [lone_name(t, START.match(t)) for t in ("Frank said so.", "Carter's set", "Stan believes")]
    [(0, 5), (0, 6), (0, 4)]
    """
    if LONE_AFTER.match(text, word.end()) is None:
        return None
    if sentence_start(text, word.start()) and lower_word_not_subject(text, word.end()):
        return None
    before = PREVIOUS_WORD.search(text, max(0, word.start() - 40), word.start())
    if before is not None:
        previous = before.group(1)
        if previous in NOT_BEFORE_LONE:
            return None
        if previous[:1].isupper() and previous[-1:].isalpha():
            return None  # part of a capitalised run: Hiram Walker's, Louis Vuitton's
    return word.span()


@cache
def surnames() -> frozenset[str]:
    """Census surnames that are no common English word (``data/en_surnames.txt``) and no
    first name here (those are ``first_names``' to read)."""
    text = resources.files("detectors").joinpath("data", "en_surnames.txt").read_text("utf-8")
    names = (line.strip() for line in text.splitlines() if not line.startswith("#"))
    return frozenset(n for n in names if len(n) >= 3) - first_names() - places()


@cache
def places() -> frozenset[str]:
    """Countries, territories, the UK's nations and the US states by their English names
    (``data/en_places.txt``): Jordan's queen, Washington's Capitol Hill, Minnesota.

    >>> {"Canada", "Jordan", "England", "Minnesota", "New York"} <= places()
    True
    """
    text = resources.files("detectors").joinpath("data", "en_places.txt").read_text("utf-8")
    return frozenset(line.strip() for line in text.splitlines() if line.strip() and line[0] != "#")


def lone_surname(text: str, word: re.Match[str]) -> tuple[int, int] | None:
    """A known surname alone as a clause's subject or owner: a verb or a possessive must
    follow (Carder was, Bobick won, Hitzig's work), stricter than ``lone_name``; not after
    an article or a preposition that places it, not inside a capitalised run.

    >>> [lone_surname(t, START.match(t)) for t in ("Carder was admitted", "Hitzig's work")]
    [(0, 6), (0, 6)]
    >>> [lone_surname(t, START.match(t)) for t in ("Johnson County roads", "English painters")]
    [None, None]

    A speech verb before it and a clause's end after it do too (``SPEECH_BEFORE``):

    >>> text = "It ships Friday, said Garcia. According to Nguyen, it slipped; as Ford said"
    >>> [text[a:b] for a, b in en_names(text)]
    ['Garcia', 'Nguyen']
    """
    spoken = SPEECH_BEFORE.search(text, max(0, word.start() - 20), word.start()) is not None
    if spoken and (CLAUSE_END_AFTER.match(text, word.end()) or text.startswith(",", word.end())):
        return word.span()  # ..., said Garcia. / according to Nguyen, the
    if not surname_subject(text, word.end()) or FOUNDED_AFTER.match(text, word.end()):
        return None  # Hopkins was founded in 1876: an institution named after a person
    before = PREVIOUS_WORD.search(text, max(0, word.start() - 40), word.start())
    if before is not None:
        previous = before.group(1)
        owner = text.startswith(("'s", "’s"), word.end())  # at Gonzalez's: a person's place
        if previous in (ARTICLES if owner else NOT_BEFORE_LONE):
            return None
        if previous[:1].isupper() and previous[-1:].isalpha():
            return None  # part of a capitalised run: Lyndon Johnson's
    return word.span()


# What is said of an institution, not of a person, right after its name. Not what is said
# of people too: acquired (a player by a club), listed (as a witness), renamed, accredited.
FOUNDED_AFTER = re.compile(
    r" (?:was|were|is|has been|had been) (?:founded|established|incorporated|headquartered|"
    r"chartered)\b"
)
# A speech verb right before a surname: the speaker (..., said Garcia.; according to Nguyen,).
SPEECH_BEFORE = re.compile(r"\b(?:said|says|asked|added|wrote|[Aa]ccording to)\s+$")
# What makes a surname alone a clause's subject: an owner's 's, an auxiliary or a common
# verb (model_names.SUBJECT_NEXT, less and/or: Johnson and Johnson), or a past form (-ed);
# not a plural noun's -s, which a verb's -s looks like (English painters, Jordan boots).
SURNAME_NEXT = SUBJECT_NEXT - {"and", "or"}


def surname_subject(text: str, end: int) -> bool:
    """An owner's 's or a verb after the surname ending at ``end``.

    >>> surname_subject("Carder was", 6), surname_subject("Norton connected", 6)
    (True, True)
    >>> surname_subject("Jordan boots", 6), surname_subject("Johnson and Johnson", 7)
    (False, False)
    """
    if text.startswith(("'s", "’s"), end):
        return True
    after = NEXT_LOWER.match(text, end)
    return after is not None and (
        after.group(1) in SURNAME_NEXT
        or (verb_shaped(after.group(1)) and after.group(1).endswith("ed"))
    )


# A word no list holds (Citrone, Atessis, Gaudin) is a name as a clause's subject: at a
# sentence's or a clause's start, a verb or an owner's 's after it, and a personal pronoun
# later in its clause (Citrone denied his involvement). Companies, products and places
# take "it" (Microsoft purchased, Aisby is a village, Kubernetes restarted the pod).
NOVEL = re.compile(r"[A-Z][a-z]{3,}")
_PARTICLES = "von van de da du der del della di la le bin ibn"
NOVEL_NEXT = SURNAME_NEXT - {"is", "are"} - frozenset(_PARTICLES.split())
PERSONAL_PRONOUN = re.compile(r"\b(?:[Hh]e|[Ss]he|[Hh]is|[Hh]er|[Hh]im|[Hh]imself|[Hh]erself)\b")
SENTENCE_END = re.compile(r"[.!?](?:\s|$)|\n")
# Where the subject's clause ends: the pronoun must stand in it (Citrone denied his
# involvement), not in the next clause, whose he/she is anyone (Postgres crashed, so he
# restored the backup; Terraform applied the plan and he merged it).
SUBJECT_CLAUSE_END = re.compile(r"[.!?](?:\s|$)|\n|[;:]|,? (?:and|but|so|then|or) (?:he|she)\b")


def novel_subject(
    text: str, word: re.Match[str], places_read: Sequence[tuple[int, int]] = ()
) -> tuple[int, int] | None:
    """A capitalised word that is no common word, name or place of the lists, as the
    subject of a clause about a person (``NOVEL``); not where the model read a place. The
    pronoun stands in the word's clause: "Terraform applied the plan and he merged it" is
    about a tool and a colleague.

    >>> text = "In 2004, Citrone was sentenced for his fraud. Microsoft purchased its rival."
    >>> [text[a:b] for a, b in en_names(text)]
    ['Citrone']
    >>> en_names("Aisby is a village, his home. Grafana crashed again; it restarted.")
    []
    """
    start, end = word.span()
    if NOVEL.fullmatch(word.group(0)) is None or not unlisted(word.group(0)):
        return None
    if not (sentence_start(text, start) or text[max(0, start - 2) : start] == ", "):
        return None
    if not text.startswith(("'s ", "’s "), end):
        after = NEXT_LOWER.match(text, end)
        if after is None or not (
            after.group(1) in NOVEL_NEXT
            or (after.group(1).endswith("ed") and verb_shaped(after.group(1)))
        ):
            return None
    if FOUNDED_AFTER.match(text, end):
        return None
    stop = SUBJECT_CLAUSE_END.search(text, end)
    if PERSONAL_PRONOUN.search(text, end, stop.start() if stop else len(text)) is None:
        return None
    if any(a < end and start < b for a, b in places_read):
        return None
    return start, end


def unlisted(word: str) -> bool:
    """No common word (of any list here), first name, census surname or place.

    >>> [unlisted(w) for w in ("Citrone", "Still", "Garcia", "Emily", "Canada", "Laboratory")]
    [True, False, False, False, False, False]
    """
    if common_word(word) or f"\n{word.lower()}\n" in _surname_words():
        return False
    return word not in first_names() and word not in surnames() and word not in places()


def repeated_parts(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Where a name found in ``text`` opens with a known first name, its first and last
    words elsewhere in the text, on their own, are the same person (James Hoyt ... Hoyt
    said; Louis Malle ... Malle's film): the surname would go out in clear.

    >>> text = "James Hoyt called. Hoyt said Ms Lee met James; the Hoyt-Key header"
    >>> [text[a:b] for a, b in repeated_parts(text, [(0, 10)])]
    ['Hoyt', 'James']
    """
    parts: set[str] = set()
    for start, end in spans:
        words = [w for w in text[start:end].split() if w.isalpha() and len(w) > 1]
        if len(words) >= 2 and words[0] in first_names() and words[-1][:1].isupper():
            parts.update((words[0], words[-1]))
    if not parts:
        return []
    found = []
    for word in START.finditer(text):
        at = word.span()
        if word.group(0) not in parts or any(a < at[1] and at[0] < b for a, b in spans):
            continue
        glued = re.match(r"[\w@/-]", text[at[1] : at[1] + 1]) is not None  # Hoyt-Key
        after = NEXT_WORD.match(text, at[1])
        before = PREVIOUS_WORD.search(text, max(0, at[0] - 40), at[0])
        if glued or (after is not None and after.group(1) in HEADS):
            continue  # Hoyt-Key, Caloi Brothers
        if before is not None and before.group(1)[:1].isupper() and before.group(1)[-1].isalpha():
            continue  # another's name: Casa Irmãos Caloi
        found.append(at)
    return found


# The other items of a list that holds a name (Jacob Lipski and Marjania Zaluska; hosted
# by Sattler, Maumill, Mabury): one to three capitalised words, middle initials allowed.
ITEM_AFTER = re.compile(rf"(?:,| and|, and) ({WORD}(?: (?:[A-Z]\. )?{WORD}){{0,2}})(?![\w@/'’-])")
ITEM_BEFORE = re.compile(
    rf"(?<![\w@#/.'’-])({WORD}(?: (?:[A-Z]\. )?{WORD}){{0,2}})(?:,| and|, and) $"
)


def list_mates(text: str, spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """The items beside a name found in a list (``, `` / `` and ``), chained: they are
    people too, unless their words say otherwise (a place, an organisation, a thing, a
    common word alone). A list holds one kind of thing; the request holds a name already.

    >>> text = "They included Karol Baliński, Franciszek Mickiewicz and Eweryst Estkowski."
    >>> [text[a:b] for a, b in list_mates(text, [(14, 28)])]
    ['Franciszek Mickiewicz', 'Eweryst Estkowski']
    >>> text = "Ann Lee, Boston University and Canada; Ann Lee and Laboratory; in Ottawa and Hull"
    >>> list_mates(text, [(0, 7), (39, 46), (65, 71)])
    []
    """
    taken = list(spans)
    found: list[tuple[int, int]] = []
    todo = [(a, b) for a, b in spans if len(text[a:b].split()) >= 2]  # a full name's list
    while todo:
        start, end = todo.pop()
        after = ITEM_AFTER.match(text, end)
        before = ITEM_BEFORE.search(text, max(0, start - 60), start)
        for match in (after, before):
            if match is None:
                continue
            span = match.span(1)
            if any(a < span[1] and span[0] < b for a, b in taken) or not list_item_ok(text, *span):
                continue
            if " " not in text[span[0] : span[1]] and placed_list(text, min(start, span[0])):
                continue  # between Caernarfon and Dinas: places the model half read
            taken.append(span)
            found.append(span)
            todo.append(span)
    return sorted(found)


def placed_list(text: str, start: int) -> bool:
    """Does a preposition that places (``TOWARDS``, between) come before the list at ``start``?"""
    previous = PREVIOUS_WORD.search(text, max(0, start - 40), start)
    return previous is not None and (previous.group(1) in TOWARDS or previous.group(1) == "between")


def list_item_ok(text: str, start: int, end: int) -> bool:
    """Words that may be a person's name in a list: no function, head, title or role word,
    not a place of the lists, not a thing's name (``names_a_thing``), no capitalised word
    right after (a longer name: Boston University)."""
    item = text[start:end]
    words = item.replace(". ", " ").split()
    if any(w in FUNCTION_WORDS or w in HEADS or w in PRODUCT_HEADS or w in TITLES for w in words):
        return False
    if item in places() or names_a_thing(item) or not en_words_ok(item):
        return False
    if words[-1] in EN_NOT_NAMES or words[-1].isupper() or len(item) < 4:
        return False  # SHURE, Dec, Bd: an acronym or an abbreviation
    return NEXT_WORD.match(text, end) is None


@cache
def _common_words() -> str:
    """``data/en_words.txt`` as one newline-framed string: a lookup is a substring search
    (~0.1 ms, and only for a model's guess), and 58,000 words cost 0.5 MB, not the ~5 MB
    of a frozenset in every detector worker."""
    text = resources.files("detectors").joinpath("data", "en_words.txt").read_text("utf-8")
    return "\n" + "\n".join(w for w in text.splitlines() if not w.startswith("#")) + "\n"


@cache
def _surname_words() -> str:
    """``data/en_surname_words.txt`` (common words some rare census surname spells: still,
    search) as one newline-framed string, as ``_common_words``."""
    text = resources.files("detectors").joinpath("data", "en_surname_words.txt").read_text("utf-8")
    return "\n" + "\n".join(w for w in text.splitlines() if not w.startswith("#")) + "\n"


def common_word(word: str) -> bool:
    """A common English word that is no census surname or first name (``en_words.txt``).

    >>> [common_word(w) for w in ("Laboratory", "Salad", "Stone", "Garcia", "Emily")]
    [True, True, False, False, False]
    """
    return word.isalpha() and word.isascii() and f"\n{word.lower()}\n" in _common_words()


def names_a_thing(guess: str) -> bool:
    """A model's guess that is one common word (Laboratory, Cannabis, Remembrance), or ends
    in one and opens with no known first name (Waldorf Salad, Tangerine Dream, Comfort
    Bikes): a thing's, a work's or a band's name. Names whose words are words too are
    census surnames (Stone, Young, Gates) or first names (Joy Lee), which the list leaves out.

    >>> [names_a_thing(g) for g in ("Laboratory", "Waldorf Salad", "Joy Division", "Emma Stone")]
    [True, True, True, False]
    """
    words = guess.split()
    if not words or not common_word(words[-1]):
        return False
    return len(words) == 1 or words[0] not in first_names()
