"""Tables pasted as text: which column header a value sits under.

    >>> column_header("请整理：\\n姓名,手机号\\n张三,13800138000", 19)
    '手机号'

People paste CSV rows into chats and LLM prompts. A bare 13800138000 there has
no field name, but its column has one; the context enhancer and the PERSON
recognizer use it like a JSON key.
"""

from __future__ import annotations

import re

DELIMITERS = (",", "\t", "|", "，")
HEADER_WORD = re.compile(r"[A-Za-z]+|[\u3400-\u4dbf\u4e00-\u9fff]+")


def _line_bounds(text: str, position: int) -> tuple[int, int]:
    start = text.rfind("\n", 0, position) + 1
    end = text.find("\n", position)
    return start, len(text) if end < 0 else end


def cells(line: str, delimiter: str) -> list[tuple[int, int]]:
    """(start, end) of each cell; a delimiter inside double quotes does not split.

    >>> cells('a,"b, c",d', ",")
    [(0, 1), (2, 8), (9, 10)]
    """
    spans, start, quoted = [], 0, False
    for index, char in enumerate(line):
        if char == '"':
            quoted = not quoted
        elif char == delimiter and not quoted:
            spans.append((start, index))
            start = index + 1
    spans.append((start, len(line)))
    return spans


def column_header(text: str, position: int) -> str | None:
    """The header cell above ``position`` in a delimited table written as text.

    >>> column_header("姓名,手机号\\n张三,13800138000", 15)
    '手机号'

    A table: lines with the same number (>= 2) of cells split by one delimiter,
    the first of them holding no digits (a header row). None when ``position``
    is in no table.
    """
    start, end = _line_bounds(text, position)
    line = text[start:end].rstrip("\r")
    delimiter = max(DELIMITERS, key=line.count)
    if start == 0 or delimiter not in line:
        return None
    row = cells(line, delimiter)
    column = next((i for i, (_, e) in enumerate(row) if position - start <= e), len(row) - 1)
    header = None
    while start > 0:  # walk up while the rows keep the same shape
        start, end = _line_bounds(text, start - 1)
        above = text[start:end].rstrip("\r")
        above_cells = cells(above, delimiter)
        if len(above_cells) != len(row):
            break
        header = [above[a:b] for a, b in above_cells]
    if header is None or any(ch.isdigit() for cell in header for ch in cell):
        return None
    return header[column].strip().strip('"')


def header_words(text: str, position: int) -> list[str]:
    """Words of ``column_header``, lower case; [] outside a table."""
    if "\n" not in text:
        return []
    header = column_header(text, position)
    return [w.lower() for w in HEADER_WORD.findall(header)] if header else []
