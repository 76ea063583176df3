"""Is a name the sender chose personal data itself? The one rule for JSON keys, query and
form field names, header names, multipart part and file names, and archive entry paths:
such a name is inspected as a segment of its own and never written into a location
(records log locations; ``proxy.extraction.extract`` writes its place, ``form:{0}``).

    is_data_key("13800138000"), is_data_key("customerPhone")   -> True, False
    withheld("张伟身份证.pdf", True), extension("张伟身份证.pdf")  -> True, ".pdf"

Its own module so that the document and image readers, which ``extract`` imports, use the
same rule for the names they put in locations (sheet titles, text chunk keywords).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from detectors.lexicon import surnames

__all__ = ["any_data_name", "extension", "is_data_key", "is_data_name", "withheld"]

# A key that could itself be personal data: 6+ digits whatever separates them (a phone or
# an ID: 138-0013-8000, +86 138 0013 8000, (138)0013-8000), an "@" (an email), or a name's
# writing beyond a plain identifier: capitalised words with spaces between (Alice Walker),
# kana or hangul, a "·" (约翰·史密斯), or a run of 2-4 ideographs that starts with a
# surname (王小明, 欧阳娜娜; ``is_data_key``). A map keyed by phone or by name is common;
# its keys are inspected like values.
_DATA_KEY = re.compile(
    r"\d(?:\D*\d){5}|@|[\u3040-\u30ff\uac00-\ud7af·•]|[A-ZÀ-ÖØ-Þ][^\W\d_]*\s+[A-ZÀ-ÖØ-Þ]"
)
_IDEOGRAPHS = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")

_PLAIN_MAX = 4096  # names remembered plain (``is_data_name``); cleared when full


def is_data_key(key: str) -> bool:
    """Is a JSON key inspected as a segment of its own (it could hold personal data)? The
    one rule of every JSON path (``rawscan`` and ``rawjson`` import it). A Chinese field
    name (姓名, 收件人姓名, 电话) is not: a name-length run starting with a surname is, so a
    field name such as 金额 costs a (cheap, finding-free) segment.

    >>> [is_data_key(k) for k in ("138-0013-8000", "(138)0013-8000", "a@b.cn", "王小明",
    ...                           "VIP_欧阳娜娜", "Alice Walker", "user_id", "createdAt", "tel1",
    ...                           "odd key", "姓名", "收件人姓名", "金额", "单价", "时间")]
    [True, True, True, True, True, True, False, False, False, False, False, False, False, False, False]
    """
    if _DATA_KEY.search(key) is not None:
        return True
    if key.isascii():
        return False
    starts_name = surnames().starts_name
    return any(2 <= len(run) <= 4 and starts_name(run) and run[-1] not in _FIELD_ENDINGS
               for run in _IDEOGRAPHS.findall(key))


def is_data_name(name: str) -> bool:
    """``is_data_key`` for the names of query and form fields and of headers: such a name
    is a segment of its own and kept out of locations. Names found plain are remembered
    (the same few repeat on every request); a name that is data is not kept.

    >>> [is_data_name(n) for n in ("mobile", "11010519491231002X", "x-13800138000", "")]
    [False, True, True, False]
    """
    if name in _PLAIN_NAMES:
        return False
    if is_data_key(name):
        return True
    if len(_PLAIN_NAMES) >= _PLAIN_MAX:
        _PLAIN_NAMES.clear()
    _PLAIN_NAMES.add(name)
    return False


_PLAIN_NAMES: set[str] = set()


def any_data_name(names: Sequence[str]) -> bool:
    """``any(map(is_data_name, names))``, for ASCII names without a call or a regex per name
    (a form of 100 fields is common; ``_DATA_KEY`` over their joined text cost ~90 us, a
    set lookup per name ~4 us): an ``@``, or six digits in one name (the names joined by
    NULs, every digit made ``0`` and every other byte dropped by one ``bytes.translate``);
    only names with a space can be capitalised words. Other names go one by one
    (``is_data_name`` remembers plain ones).

    >>> any_data_name(["items[0][sku]", "items[1][qty]", "page"]), any_data_name(["a", "王小明"])
    (False, True)
    >>> any_data_name(["x1", "2345-6"]), any_data_name(["x1", "23456-7"]), any_data_name(["A B"])
    (False, True, True)
    """
    joined = "\x00".join(names)
    if joined.isascii() and joined.count("\x00") == len(names) - 1:
        data = joined.encode("ascii")
        if b"@" in data or b"000000" in data.translate(_ZERO_DIGITS, _NOT_DIGITS):
            return True
        if not data.translate(None, _NOT_SPACE):  # no ASCII \s: no capitalised words
            return False
    # names seen plain before (one C-level pass), else one by one
    return not all(map(_PLAIN_NAMES.__contains__, names)) and any(map(is_data_name, names))


# bytes.translate tables of any_data_name: digits -> "0", NUL kept, all else dropped; and
# everything but ASCII whitespace (as ``\s`` reads it) dropped.
_ZERO_DIGITS = bytes(0x30 if 0x30 <= b <= 0x39 else b for b in range(256))
_NOT_DIGITS = bytes(b for b in range(256) if not (0x30 <= b <= 0x39 or b == 0))
_NOT_SPACE = bytes(b for b in range(128) if not chr(b).isspace())


# Last characters of Chinese field names, hardly ever of a given name: 金额, 单价, 时间,
# 方式, 任务, 公司, 余额, 程序, 高度, 范围, 明细, 编号... start with a surname character,
# and keys like these would otherwise send every Chinese API body down the full path.
_FIELD_ENDINGS = frozenset("额价间式务司序度围细号码期量数型态址率称类别目单表项值级位点段源注述"
                           "容题签况限积格因户时日月年份态长宽重色图片件据息录版本称型态")


def withheld(shown: str, is_file: bool) -> bool:
    """Is a part's name or file name kept out of its location? A field name when it is data
    (``is_data_name``, as for form fields); a file name also when a surname starts anywhere
    in a run of two or more ideographs: people name files after whom they are about
    (张伟身份证.pdf, 身份证张伟.jpg), a program names fields. A file name that only looks
    like one (销售明细.xlsx) loses nothing but its place in the location.

    >>> [withheld(*a) for a in (("orders.csv", True), ("客户.csv", True), ("张伟身份证.pdf", True),
    ...     ("身份证张伟.jpg", True), ("11010519491231002X.jpg", True), ("姓名", False),
    ...     ("13800138000", False))]
    [False, False, True, True, True, False, True]
    """
    if is_data_name(shown):
        return True
    if not is_file or shown.isascii():
        return False
    starts_name = surnames().starts_name
    return any(starts_name(run[i:]) for run in _IDEOGRAPHS.findall(shown)
               for i in range(len(run) - 1))


# A file name's extensions (.pdf, .csv.gz): kept in a withheld file name's location, so a
# reviewer still sees the kind of file and archives still name what they hold (x.csv.gz ->
# x.csv is read as CSV). Each starts with a letter, so no digits of the name come along.
_FILE_EXTENSIONS = re.compile(r"(?:\.[A-Za-z][A-Za-z0-9]{0,4}){1,2}\Z")


def extension(filename: str) -> str:
    """The extensions kept of a withheld file name.

    >>> [extension(f) for f in ("张伟身份证.pdf", "11010519491231002X.csv.gz", "138.0013.8000")]
    ['.pdf', '.csv.gz', '']
    """
    found = _FILE_EXTENSIONS.search(filename)
    return found.group() if found else ""
