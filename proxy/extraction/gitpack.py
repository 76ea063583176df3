"""git smart-HTTP pushes: the files in a ``git-receive-pack`` request, and git's refusal.

    view = handlers(open_entry)[RECEIVE_PACK](body, "body", 0, limits)
    [s.location for s in view.segments]
      -> ["git:data/customers.csv:row1", "git:data/customers.csv:row2", "git:commit:3f2a9c1e"]

A push body is pkt-lines (``<old> <new> <ref>\\0<capabilities>``, one per ref, a flush
``0000``, push options if any) then a packfile: ``PACK``, version, object count, objects
(a type-and-size header, zlib data), a checksum. Objects are inflated with the request's
Budget; OFS_DELTA and REF_DELTA objects are rebuilt from their base in the pack. Blobs are
opened like uploaded files (a CSV blob gives rows, a JSON blob JSON, a zip blob its
entries) at ``git:<path>`` where a tree in the pack names them, else
``git:blob:<sha prefix>``; commit and tag messages at ``git:commit:<sha prefix>``
(trailers such as ``Signed-off-by:`` left out: they name the developer, not a customer).

Thin packs: ``git push`` sends deltas against objects the server already has. Such a
REF_DELTA cannot be rebuilt here; what it adds is in its insert instructions (what it
copies is already on the server), so the inserted bytes are inspected as text at
``git:delta:<base sha prefix>``. A value split between copied and inserted bytes is not
seen: the accepted gap of inspecting a delta without its base.

Hand-written (pkt-lines, pack, delta): the formats are small and stable, and reading
them from bytes in memory with our Budget is simpler than fitting dulwich's object store
around caps. Corrupt or truncated data -> Uninspectable; past the budget -> Oversize.
The pack cannot be rewritten: masking raises CannotMask (the push is refused, see
``push_refusal``).
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from detectors.model import Segment
from proxy.errors import Uninspectable
from proxy.extraction.decode import Budget, current_budget
from proxy.extraction.documents import OpenEntry, document_view
from proxy.extraction.layers import View
from proxy.extraction.limits import Limits
from proxy.extraction.strings import printable_runs

RECEIVE_PACK = "application/x-git-receive-pack-request"
MAX_OBJECTS = 100_000
_CHUNK = 64 << 10
_START = re.compile(
    rb"[0-9a-f]{4}(?:[0-9a-f]{40} [0-9a-f]{40} |[0-9a-f]{64} [0-9a-f]{64} |shallow |push-cert\x00)"
)
_CERT_COMMAND = re.compile(rb"(?:[0-9a-f]{40}|[0-9a-f]{64}) (?:[0-9a-f]{40}|[0-9a-f]{64}) \S+\Z")
_TYPES = {1: b"commit", 2: b"tree", 3: b"blob", 4: b"tag"}
_OFS_DELTA, _REF_DELTA = 6, 7
_TRAILER = re.compile(r"(?m)^[A-Za-z-]+-by: .*$")

Handler = Callable[[bytes, str, int, Limits], View]


def sniff(data: bytes) -> str | None:
    """A receive-pack request starts with a pkt-line command ``<len><old-sha> <new-sha> ``."""
    return RECEIVE_PACK if _START.match(data) else None


def handlers(open_entry: OpenEntry) -> dict[str, Handler]:
    def handler(data: bytes, label: str, depth: int, limits: Limits) -> View:
        return _push_view(data, "git" if label == "body" else f"{label}:git", depth, limits,
                          open_entry)

    return {RECEIVE_PACK: handler}


# ---------------------------------------------------------------- pkt-lines


@dataclass(frozen=True, slots=True)
class Command:
    old: str
    new: str
    ref: str


@dataclass(frozen=True, slots=True)
class Request:
    commands: tuple[Command, ...]
    capabilities: frozenset[str]
    pack: bytes  # from "PACK" on; empty for a push that only deletes refs


def parse_request(body: bytes) -> Request:
    """Commands, capabilities and the packfile of a receive-pack request body.

    parse_request(pkt(old + " " + new + " refs/heads/main\\0report-status\\n") + b"0000" + pack)
      -> Request(commands=(Command(old, new, "refs/heads/main"),),
                 capabilities={"report-status"}, pack=pack)
    """
    commands: list[Command] = []
    capabilities: frozenset[str] = frozenset()
    pos, section, signed = 0, "commands", False
    while True:
        line, pos = _pkt_line(body, pos)
        if line is None:  # flush
            if section == "commands" and "push-options" in capabilities and commands:
                section = "options"
                continue
            break
        if section == "options":
            continue
        text, _, caps = line.rstrip(b"\n").partition(b"\x00")
        if caps:
            capabilities = frozenset(caps.decode("ascii", "replace").split())
        if text == b"push-cert":  # a signed push: the commands are lines of the certificate
            signed = True
        if text.startswith(b"shallow ") or (signed and not _CERT_COMMAND.match(text)):
            continue
        parts = text.split(b" ")
        if len(parts) != 3:
            raise Uninspectable("malformed git push command")
        commands.append(Command(*(p.decode("utf-8", "replace") for p in parts)))
    if not commands:
        raise Uninspectable("git push without commands")
    return Request(tuple(commands), capabilities, body[pos:])


def _pkt_line(data: bytes, pos: int) -> tuple[bytes | None, int]:
    """One pkt-line at ``pos``: (payload or None for a flush, next position)."""
    head = data[pos : pos + 4]
    if len(head) != 4 or not re.fullmatch(rb"[0-9a-fA-F]{4}", head):
        raise Uninspectable("malformed git pkt-line")
    size = int(head, 16)
    if size == 0:
        return None, pos + 4
    if size < 4 or pos + size > len(data):
        raise Uninspectable("malformed git pkt-line")
    return data[pos + 4 : pos + size], pos + size


# ---------------------------------------------------------------- the view


def _push_view(
    data: bytes, where: str, depth: int, limits: Limits, open_entry: OpenEntry
) -> View:
    """``where``: ``git`` for a request body, ``<label>:git`` for a push found inside something."""
    request = parse_request(data)
    if not request.pack:
        return document_view((), "git pack")
    budget = current_budget(limits.max_decoded_bytes)
    sha_size = 32 if len(request.commands[0].new) == 64 else 20
    pack = read_pack(request.pack, budget, sha_size)
    segments: list[Segment] = []
    paths = _paths(pack)
    for sha, (kind, content) in pack.objects.items():
        if kind == b"blob":
            name = paths.get(sha)
            label = f"{where}:{name}" if name else f"{where}:blob:{sha[:8]}"
            view = open_entry(content, (name or "").rpartition("/")[2], label, depth + 1, limits)
            segments += view.segments if view else ()
        elif kind in (b"commit", b"tag"):
            segments += _message(content, f"{where}:{kind.decode()}:{sha[:8]}")
    for base, inserted in pack.thin:
        # Tree deltas insert binary entries (names, NUL, sha): keep only their printable runs.
        if b"\x00" in inserted:
            text = "\n".join(printable_runs(inserted))
        else:
            text = inserted.decode("utf-8", "replace")
        if text.strip():
            segments.append(Segment(text, f"{where}:delta:{base[:8]}"))
    return document_view(tuple(segments), "git pack")


def _message(content: bytes, location: str) -> list[Segment]:
    _, _, message = content.partition(b"\n\n")
    text = _TRAILER.sub("", message.decode("utf-8", "replace")).strip()
    return [Segment(text, location)] if text else []


def _paths(pack: Pack) -> dict[str, str]:
    """Blob sha -> path, walking each commit's root tree through the trees in the pack."""
    trees = {sha: content for sha, (kind, content) in pack.objects.items() if kind == b"tree"}
    roots = [
        content[5 : 5 + 2 * pack.sha_size].decode()
        for kind, content in pack.objects.values()
        if kind == b"commit" and content.startswith(b"tree ")
    ]
    paths: dict[str, str] = {}
    seen: set[str] = set()
    stack = [(root, "") for root in roots]
    while stack:
        sha, prefix = stack.pop()
        if sha in seen or sha not in trees:
            continue
        seen.add(sha)
        for mode, name, child in _tree_entries(trees[sha], pack.sha_size):
            path = prefix + name
            if mode.startswith("4"):  # 40000: a subtree
                stack.append((child, path + "/"))
            else:
                paths.setdefault(child, path)
    for sha, content in trees.items():  # trees no commit in the pack reaches
        if sha not in seen:
            for mode, name, child in _tree_entries(content, pack.sha_size):
                if not mode.startswith("4"):
                    paths.setdefault(child, name)
    return paths


def _tree_entries(tree: bytes, sha_size: int) -> list[tuple[str, str, str]]:
    entries, pos = [], 0
    while pos < len(tree):
        space = tree.find(b" ", pos)
        nul = tree.find(b"\x00", space)
        if space < 0 or nul < 0 or nul + 1 + sha_size > len(tree):
            raise Uninspectable("corrupt git tree")
        mode = tree[pos:space].decode("ascii", "replace")
        name = tree[space + 1 : nul].decode("utf-8", "replace")
        entries.append((mode, name, tree[nul + 1 : nul + 1 + sha_size].hex()))
        pos = nul + 1 + sha_size
    return entries


# ---------------------------------------------------------------- the packfile


@dataclass(slots=True)
class Pack:
    objects: dict[str, tuple[bytes, bytes]]  # sha hex -> (type, content)
    thin: list[tuple[str, bytes]]  # (base sha hex, inserted bytes) of deltas on absent bases
    sha_size: int


@dataclass(frozen=True, slots=True)
class _Entry:
    kind: int
    data: bytes  # inflated content, or the delta
    base: int | str | None = None  # OFS_DELTA: base offset in the pack; REF_DELTA: base sha


def read_pack(pack: bytes, budget: Budget, sha_size: int = 20) -> Pack:
    """Every object of a packfile, deltas resolved; raises Uninspectable on corrupt data."""
    if len(pack) < 12 + sha_size or pack[:4] != b"PACK" or pack[4:8] not in (
        b"\x00\x00\x00\x02", b"\x00\x00\x00\x03"
    ):
        raise Uninspectable("corrupt git packfile header")
    count = int.from_bytes(pack[8:12], "big")
    if count > MAX_OBJECTS:
        raise Uninspectable(f"git pack with more than {MAX_OBJECTS} objects")
    budget.count_entries(count)
    view = memoryview(pack)
    entries: dict[int, _Entry] = {}
    pos = 12
    for _ in range(count):
        entry, end = _read_entry(view, pos, budget, sha_size)
        entries[pos] = entry
        pos = end
    if len(pack) - pos != sha_size:
        raise Uninspectable("git packfile length does not match its objects")
    return _resolve(entries, budget, sha_size)


def _read_entry(view: memoryview, pos: int, budget: Budget, sha_size: int) -> tuple[_Entry, int]:
    start = pos
    kind, size, pos = _object_header(view, pos)
    base: int | str | None = None
    if kind == _OFS_DELTA:
        distance, pos = _offset(view, pos)
        base = start - distance  # the base object's offset in the pack
    elif kind == _REF_DELTA:
        base = bytes(view[pos : pos + sha_size]).hex()
        pos += sha_size
    elif kind not in _TYPES:
        raise Uninspectable("corrupt git pack object type")
    budget.spend(size, "git object")
    data, pos = _inflate(view, pos, size)
    return _Entry(kind, data, base), pos


def _object_header(view: memoryview, pos: int) -> tuple[int, int, int]:
    byte = _byte(view, pos)
    kind, size, shift = (byte >> 4) & 7, byte & 15, 4
    while byte & 0x80:
        pos += 1
        byte = _byte(view, pos)
        size |= (byte & 0x7F) << shift
        shift += 7
        if shift > 64:
            raise Uninspectable("corrupt git object header")
    return kind, size, pos + 1


def _offset(view: memoryview, pos: int) -> tuple[int, int]:
    """OFS_DELTA's base distance: big-endian 7-bit groups, each continuation adding one."""
    byte = _byte(view, pos)
    value = byte & 0x7F
    while byte & 0x80:
        pos += 1
        byte = _byte(view, pos)
        value = ((value + 1) << 7) | (byte & 0x7F)
        if value > 1 << 64:
            raise Uninspectable("corrupt git delta offset")
    return value, pos + 1


def _byte(view: memoryview, pos: int) -> int:
    if pos >= len(view):
        raise Uninspectable("truncated git packfile")
    return view[pos]


def _inflate(view: memoryview, pos: int, size: int) -> tuple[bytes, int]:
    """Exactly ``size`` bytes from the zlib stream at ``pos``; (data, position after it).

    Fed in chunks so that the rest of the pack is not copied once per object.
    """
    inflater = zlib.decompressobj()
    out: list[bytes] = []
    got, at = 0, pos
    pending: bytes | memoryview = b""
    try:
        while not inflater.eof:
            if not pending:
                if at >= len(view):
                    raise Uninspectable("truncated git packfile")
                pending = view[at : at + _CHUNK]
                at += len(pending)
            chunk = inflater.decompress(pending, size + 1 - got)
            got += len(chunk)
            if got > size:
                raise Uninspectable("git object larger than its header says")
            out.append(chunk)
            pending = inflater.unconsumed_tail
    except zlib.error:
        raise Uninspectable("corrupt git object data") from None
    if got != size:
        raise Uninspectable("git object smaller than its header says")
    return b"".join(out), at - len(inflater.unused_data)


def _resolve(entries: dict[int, _Entry], budget: Budget, sha_size: int) -> Pack:
    """Whole objects first, then every delta once its base is known (breadth first, so a
    long chain costs no recursion and each delta is visited once)."""
    hash_ = hashlib.sha1 if sha_size == 20 else hashlib.sha256
    objects: dict[str, tuple[bytes, bytes]] = {}
    by_offset: dict[int, tuple[bytes, bytes]] = {}
    on_offset: dict[int, list[int]] = {}  # base offset -> OFS_DELTA entries on it
    on_sha: dict[str, list[int]] = {}  # base sha -> REF_DELTA entries on it
    ready: list[tuple[int, str]] = []

    def store(offset: int, kind: bytes, content: bytes) -> None:
        header = kind + b" " + str(len(content)).encode() + b"\x00"
        sha = hash_(header + content).hexdigest()
        objects[sha] = by_offset[offset] = (kind, content)
        ready.append((offset, sha))

    for offset, entry in entries.items():
        if entry.kind == _OFS_DELTA:
            assert isinstance(entry.base, int)
            if entry.base not in entries:
                raise Uninspectable("git delta whose base is not in the pack")
            on_offset.setdefault(entry.base, []).append(offset)
        elif entry.kind == _REF_DELTA:
            on_sha.setdefault(str(entry.base), []).append(offset)
        else:
            store(offset, _TYPES[entry.kind], entry.data)
    while ready:
        offset, sha = ready.pop()
        for delta_at in on_offset.pop(offset, []) + on_sha.pop(sha, []):
            if delta_at in by_offset:
                continue  # the same object reached twice
            kind, base = by_offset[offset]
            delta = entries[delta_at].data
            budget.spend(_delta_sizes(delta)[1], "git delta result")
            store(delta_at, kind, apply_delta(base, delta))
    # What is left stands on a base the server has (a thin pack), directly or through a
    # chain: its inserted bytes are what this push adds.
    thin = [
        (str(entry.base) if entry.kind == _REF_DELTA else "chain", delta_inserts(entry.data))
        for offset, entry in entries.items()
        if offset not in by_offset
    ]
    return Pack(objects, thin, sha_size)


# ---------------------------------------------------------------- deltas


def _varint(delta: bytes, pos: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if pos >= len(delta) or shift > 64:
            raise Uninspectable("corrupt git delta")
        byte = delta[pos]
        value |= (byte & 0x7F) << shift
        shift += 7
        pos += 1
        if not byte & 0x80:
            return value, pos


def _delta_sizes(delta: bytes) -> tuple[int, int, int]:
    source, pos = _varint(delta, 0)
    target, pos = _varint(delta, pos)
    return source, target, pos


def _copy_args(delta: bytes, op: int, pos: int) -> tuple[int, int, int]:
    offset = size = 0
    for i in range(4):
        if op & (1 << i):
            offset |= delta[pos] << (8 * i)
            pos += 1
    for i in range(3):
        if op & (0x10 << i):
            size |= delta[pos] << (8 * i)
            pos += 1
    return offset, size or 0x10000, pos


def apply_delta(base: bytes, delta: bytes) -> bytes:
    """git's delta format: sizes, then copy (from base) and insert (literal) instructions."""
    source, target, pos = _delta_sizes(delta)
    if source != len(base):
        raise Uninspectable("git delta does not fit its base")
    out = bytearray()
    try:
        while pos < len(delta):
            op = delta[pos]
            pos += 1
            if op & 0x80:
                offset, size, pos = _copy_args(delta, op, pos)
                if offset + size > len(base):
                    raise Uninspectable("corrupt git delta")
                out += base[offset : offset + size]
            elif op:
                if pos + op > len(delta):
                    raise Uninspectable("corrupt git delta")
                out += delta[pos : pos + op]
                pos += op
            else:
                raise Uninspectable("corrupt git delta")
            if len(out) > target:
                raise Uninspectable("git delta larger than it says")
    except IndexError:
        raise Uninspectable("corrupt git delta") from None
    if len(out) != target:
        raise Uninspectable("git delta smaller than it says")
    return bytes(out)


def delta_inserts(delta: bytes) -> bytes:
    """The literal bytes a delta inserts (what it adds to its base), joined by newlines."""
    _, _, pos = _delta_sizes(delta)
    pieces = []
    try:
        while pos < len(delta):
            op = delta[pos]
            pos += 1
            if op & 0x80:
                _, _, pos = _copy_args(delta, op, pos)
            elif op:
                pieces.append(delta[pos : pos + op])
                pos += op
            else:
                raise Uninspectable("corrupt git delta")
    except IndexError:
        raise Uninspectable("corrupt git delta") from None
    return b"\n".join(pieces)


# ---------------------------------------------------------------- refusing a push


def push_refusal(body: bytes, message: str) -> tuple[int, list[tuple[str, str]], bytes]:
    """The answer ``git push`` shows for a refused push: (status, headers, body).

    With report-status, each ref gets ``ng <ref> <reason>`` (git prints
    ``! [remote rejected] main -> main (<reason>)`` and exits 1); with side-band-64k the
    message also goes on band 2 (``remote: <message>``). A client that asked for neither,
    or a body we cannot read, gets a 403 with the message as text (git prints the status).
    ``body`` may still be gzip-encoded (only its first 64 KiB are inflated).
    """
    line = " ".join(message.replace("\x00", " ").split())
    try:
        request = parse_request(_head(body))
    except Uninspectable:
        request = None
    if request is None or (
        "report-status" not in request.capabilities
        and not {"report-status-v2"} & request.capabilities
    ):
        return 403, [("content-type", "text/plain; charset=utf-8")], (line + "\n").encode()
    status = _pkt(b"unpack ok\n") + b"".join(
        _pkt(f"ng {c.ref} {line}\n".encode()) for c in request.commands
    ) + b"0000"
    caps = request.capabilities
    if "side-band-64k" in caps or "side-band" in caps:
        band = 65515 if "side-band-64k" in caps else 995
        out = b"".join(_pkt(b"\x01" + status[i : i + band]) for i in range(0, len(status), band))
        out += _pkt(b"\x02" + (line + "\n").encode()[: band]) + b"0000"
    else:
        out = status
    headers = [
        ("content-type", "application/x-git-receive-pack-result"),
        ("cache-control", "no-cache"),
    ]
    return 200, headers, out


def _pkt(payload: bytes) -> bytes:
    return f"{len(payload) + 4:04x}".encode() + payload


def _head(body: bytes) -> bytes:
    """The commands are at the start; a gzip body is inflated only that far."""
    if not body.startswith(b"\x1f\x8b"):
        return body
    try:
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(body, 64 << 10)
    except zlib.error:
        return b""
