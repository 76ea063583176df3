"""git pushes: real packs from the real git binary (full, with deltas, thin), pkt-lines,
and the refusal answer as the real git client reads it."""

from __future__ import annotations

import base64
import contextlib
import gzip
import http.server
import json
import os
import re
import subprocess
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from document_samples import zip_bytes
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.errors import CannotMask, Oversize, Uninspectable
from proxy.extraction import gitpack
from proxy.extraction.decode import Budget
from proxy.extraction.extract import Limits, RawRequest, extract

RID = "11010519491231002X"
PHONE = "13800138000"
LIMITS = Limits(max_body_bytes=4 << 20, max_decoded_bytes=4 << 20, max_depth=5)
ZERO = "0" * 40
URL = "https://git.example.com/team/repo.git/git-receive-pack"
CTYPE = "application/x-git-receive-pack-request"
LINES = "\n".join(f"line {i}: nothing personal here, just filler text" for i in range(200))


def git(repo: Path, *args: str, stdin: bytes | None = None) -> bytes:
    env = {**os.environ, "GIT_AUTHOR_NAME": "Dev", "GIT_AUTHOR_EMAIL": "dev@example.com",
           "GIT_COMMITTER_NAME": "Dev", "GIT_COMMITTER_EMAIL": "dev@example.com",
           "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1"}
    return subprocess.run(["git", "-C", str(repo), *args], input=stdin, env=env,
                          capture_output=True, check=True).stdout


def commit(repo: Path, files: dict[str, str | bytes], message: str) -> str:
    for name, content in files.items():
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD").decode().strip()


def pkt(payload: bytes) -> bytes:
    return f"{len(payload) + 4:04x}".encode() + payload


def push_body(old: str, new: str, pack: bytes, caps: str = "report-status side-band-64k") -> bytes:
    first = f"{old} {new} refs/heads/main".encode() + b"\x00" + caps.encode() + b"\n"
    return pkt(first) + b"0000" + pack


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Two commits: the second edits a large file slightly (a delta) and adds customer data."""
    root = tmp_path_factory.mktemp("repo")
    git(root, "init", "-q", "-b", "main")
    first = commit(root, {"src/notes.txt": LINES, "README.md": "hello\n"}, "first")
    second = commit(
        root,
        {
            "src/notes.txt": LINES.replace("line 100:", f"line 100: call {PHONE}"),
            "data/customers.csv": f"name,phone,id_no\n张三,{PHONE},{RID}\n",
            "data/c.json": json.dumps({"customer": {"id": RID}}),
            "export.zip": zip_bytes({"inner.csv": f"id\n{RID}\n".encode()}),
        },
        "add customers\n\nticket 42\nSigned-off-by: Dev <dev@example.com>\n",
    )
    full = git(root, "pack-objects", "--revs", "--stdout", "--delta-base-offset",
               stdin=f"{second}\n".encode())
    ref_deltas = git(root, "pack-objects", "--revs", "--stdout", stdin=f"{second}\n".encode())
    thin = git(root, "pack-objects", "--revs", "--stdout", "--thin", "--delta-base-offset",
               stdin=f"{second}\n^{first}\n".encode())
    return {"root": root, "first": first, "second": second, "full": full,
            "ref_deltas": ref_deltas, "thin": thin}


def found(body: bytes, limits: Limits = LIMITS, encoding: str | None = None) -> list[tuple[str, str]]:
    headers = [("content-type", CTYPE)] + ([("content-encoding", encoding)] if encoding else [])
    request = RawRequest("POST", URL, tuple(headers), body)
    return [(s.location, s.text) for s in extract(request, limits).segments if s.location != "path"]


def test_pack_has_deltas(repo: dict) -> None:
    """The fixture really exercises deltas (else the delta tests below prove nothing)."""
    kinds = set()
    pack = repo["full"]
    pos, count = 12, int.from_bytes(pack[8:12], "big")
    for _ in range(count):
        kind, size, pos = gitpack._object_header(memoryview(pack), pos)
        kinds.add(kind)
        if kind == 6:
            _, pos = gitpack._offset(memoryview(pack), pos)
        _, pos = gitpack._inflate(memoryview(pack), pos, size)
    assert 6 in kinds  # OFS_DELTA


@pytest.mark.parametrize("pack_name", ["full", "ref_deltas"])
def test_files_of_a_push_are_inspected_by_path(repo: dict, pack_name: str) -> None:
    segs = found(push_body(ZERO, repo["second"], repo[pack_name]))
    locations = {loc for loc, _ in segs}
    assert ("git:data/customers.csv:row2", f"张三,{PHONE},{RID}") in segs
    assert ("git:data/c.json:$.customer.id", RID) in segs
    assert ("git:export.zip:inner.csv:row2", RID) in segs
    notes = [text for loc, text in segs if loc == "git:src/notes.txt"]
    assert len(notes) == 2 and sum(PHONE in t for t in notes) == 1  # old and new version
    message = [text for loc, text in segs if loc.startswith("git:commit:")]
    assert "add customers\n\nticket 42" in message and "dev@example.com" not in "".join(message)
    assert "git:README.md" in locations


def test_thin_pack_delta_shows_what_it_adds(repo: dict) -> None:
    segs = found(push_body(repo["first"], repo["second"], repo["thin"]))
    deltas = [text for loc, text in segs if loc.startswith("git:delta:")]
    assert len(deltas) == 1 and f"call {PHONE}" in deltas[0]
    assert "line 5:" not in deltas[0]  # copied from the base, already on the server
    assert ("git:data/customers.csv:row2", f"张三,{PHONE},{RID}") in segs


def test_gzip_push_body_is_inspected(repo: dict) -> None:
    body = gzip.compress(push_body(ZERO, repo["second"], repo["full"]))
    assert ("git:data/c.json:$.customer.id", RID) in found(body, encoding="gzip")


def test_push_body_sniffed_whatever_its_type(repo: dict) -> None:
    request = RawRequest("POST", URL, (("content-type", "text/plain"),),
                         push_body(ZERO, repo["second"], repo["full"]))
    assert "git:data/customers.csv:row2" in [s.location for s in extract(request, LIMITS).segments]


def test_push_inside_another_upload_keeps_its_label(repo: dict) -> None:
    body = json.dumps({"p": base64.b64encode(push_body(ZERO, repo["second"], repo["full"])).decode()})
    request = RawRequest("POST", "https://x.example.com/u", (("content-type", "application/json"),),
                         body.encode())
    locations = [s.location for s in extract(request, LIMITS).segments]
    assert "json:$.p|base64:git:data/customers.csv:row2" in locations


def test_delete_only_push_has_nothing_to_inspect() -> None:
    assert found(push_body("1" * 40, ZERO, b"")) == []


def test_push_options_are_skipped() -> None:
    body = pkt(f"{ZERO} {'1' * 40} refs/heads/x\x00push-options report-status\n".encode()) \
        + b"0000" + pkt(b"ci.skip\n") + b"0000"
    assert gitpack.parse_request(body).pack == b""


def test_signed_push_commands_come_from_the_certificate(repo: dict) -> None:
    cert = [b"certificate version 0.1\n", b"pusher Dev <dev@example.com> 0 +0000\n",
            b"pushee https://git.example.com/r.git\n", b"nonce 1-abc\n", b"\n",
            f"{ZERO} {repo['second']} refs/heads/main\n".encode(),
            b"-----BEGIN PGP SIGNATURE-----\n", b"xyz\n", b"-----END PGP SIGNATURE-----\n",
            b"push-cert-end\n"]
    body = pkt(b"push-cert\x00report-status side-band-64k\n") + b"".join(map(pkt, cert)) \
        + b"0000" + repo["full"]
    request = gitpack.parse_request(body)
    assert request.commands == (gitpack.Command(ZERO, repo["second"], "refs/heads/main"),)
    assert ("git:data/c.json:$.customer.id", RID) in found(body)
    assert bands(gitpack.push_refusal(body, "no")[2])[1].count(b"ng refs/heads/main no") == 1


def test_long_delta_chains_resolve(tmp_path: Path) -> None:
    """300 versions of one file, packed into long delta chains: every version is rebuilt."""
    git(tmp_path, "init", "-q", "-b", "main")
    stream, lines = [], LINES.splitlines()
    for i in range(300):
        lines[i % len(lines)] = f"edit {i:04d}: " + "abcdefghij" * (i % 7 + 1)
        content = ("\n".join(lines) + f"\nversion {i:04d}\n").encode()
        stream.append(b"commit refs/heads/main\ncommitter Dev <d@e> 0 +0000\ndata 2\nv\n"
                      + b"M 100644 inline f.txt\ndata " + str(len(content)).encode() + b"\n"
                      + content + b"\n")
    git(tmp_path, "fast-import", "--quiet", stdin=b"".join(stream))
    head = git(tmp_path, "rev-parse", "main").decode().strip()
    pack = git(tmp_path, "pack-objects", "--revs", "--stdout", "--depth=300", "--window=300", "--no-reuse-delta", "--threads=1",
               stdin=f"{head}\n".encode())
    (tmp_path / "p.pack").write_bytes(pack)
    git(tmp_path, "index-pack", str(tmp_path / "p.pack"))
    chains = re.findall(r"chain length = (\d+)", git(tmp_path, "verify-pack", "-v",
                                                    str(tmp_path / "p.idx")).decode())
    assert max(map(int, chains)) >= 20  # the pack really has long chains
    limits = Limits(max_body_bytes=4 << 20, max_decoded_bytes=16 << 20)
    texts = [text for loc, text in found(push_body(ZERO, head, pack), limits) if loc == "git:f.txt"]
    assert sorted(t.strip()[-12:] for t in texts) == [f"version {i:04d}" for i in range(300)]


def test_push_cannot_be_masked(repo: dict) -> None:
    request = RawRequest("POST", URL, (("content-type", CTYPE),),
                         push_body(ZERO, repo["second"], repo["full"]))
    ex = extract(request, LIMITS)
    first = next(i for i, s in enumerate(ex.segments) if s.location.startswith("git:"))
    with pytest.raises(CannotMask):
        ex.rewrite({first: [(0, 1, "*")]})


def test_objects_past_the_budget_are_oversize(repo: dict) -> None:
    small = Limits(max_body_bytes=1 << 20, max_decoded_bytes=len(repo["full"]) + 2000)
    with pytest.raises(Oversize):
        found(push_body(ZERO, repo["second"], repo["full"]), small)


def test_object_bomb_is_oversize() -> None:
    data = bytes(8 << 20)
    header = bytes([0x30 | 0x80 | (len(data) & 15)])
    size = len(data) >> 4
    while size:
        header += bytes([(size & 0x7F) | (0x80 if size >> 7 else 0)])
        size >>= 7
    pack = b"PACK\x00\x00\x00\x02\x00\x00\x00\x01" + header + zlib.compress(data) + b"\x00" * 20
    with pytest.raises(Oversize):
        found(push_body(ZERO, "1" * 40, pack))


def _data_at(pack: bytes) -> int:
    """Where the first object's zlib data starts."""
    return gitpack._object_header(memoryview(pack), 12)[2]


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda p: p[:-30], id="truncated"),
        pytest.param(lambda p: p[: _data_at(p) + 2] + b"\xff" * 6 + p[_data_at(p) + 8 :],
                     id="corrupt-object"),
        pytest.param(lambda p: b"PACK\x00\x00\x00\x09" + p[8:], id="bad-version"),
        pytest.param(lambda p: p[:8] + (10**6).to_bytes(4, "big") + p[12:], id="wrong-count"),
    ],
)
def test_corrupt_packs_are_uninspectable(repo: dict, mutate) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Uninspectable) as info:
        found(push_body(ZERO, repo["second"], mutate(repo["full"])))
    assert PHONE not in str(info.value)


def test_apply_delta_copy_and_insert() -> None:
    base = b"0123456789"
    delta = bytes([10, 9]) + bytes([0x91, 2, 4]) + bytes([3]) + b"abc" + bytes([0x90, 2])
    assert gitpack.apply_delta(base, delta) == b"2345abc01"
    assert gitpack.delta_inserts(delta) == b"abc"
    with pytest.raises(Uninspectable):
        gitpack.apply_delta(base, bytes([10, 9]) + bytes([0x91, 9, 4]))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_random_bodies_never_crash(body: bytes) -> None:
    for data in (body, pkt(f"{ZERO} {'1' * 40} refs/heads/m\x00report-status\n".encode())
                 + b"0000PACK" + body):
        with contextlib.suppress(Uninspectable, Oversize):
            gitpack._push_view(data, "git", 0, LIMITS, lambda *a: None)
    with contextlib.suppress(Uninspectable, Oversize):
        gitpack.read_pack(b"PACK\x00\x00\x00\x02" + body, Budget(1 << 20))


COMMAND = pkt(f"{ZERO} {'1' * 40} refs/heads/m\x00report-status push-options\n".encode())


@settings(max_examples=300, deadline=None)
@given(st.booleans(), st.lists(st.one_of(st.binary(max_size=90), st.none()), max_size=8),
       st.binary(max_size=60))
def test_pkt_line_sequences_parse_or_fail_closed(
    command_first: bool, lines: list[bytes | None], tail: bytes
) -> None:
    body = (COMMAND if command_first else b"") + b"".join(
        b"0000" if line is None else pkt(line) for line in lines) + tail
    try:
        request = gitpack.parse_request(body)
    except Uninspectable:
        return
    assert request.commands and body.endswith(request.pack)
    status, _, answer = gitpack.push_refusal(body, "no")
    reports = bool({"report-status", "report-status-v2"} & request.capabilities)
    assert status == (200 if reports else 403) and answer


# ---------------------------------------------------------------- the refusal


def bands(body: bytes) -> dict[int, bytes]:
    out: dict[int, bytes] = {1: b"", 2: b""}
    pos = 0
    while pos < len(body):
        size = int(body[pos : pos + 4], 16)
        if size == 0:
            pos += 4
            continue
        payload = body[pos + 4 : pos + size]
        out[payload[0]] += payload[1:]
        pos += size
    return out


def test_refusal_with_side_band_and_report_status() -> None:
    body = push_body(ZERO, "1" * 40, b"PACK...")
    status, headers, answer = gitpack.push_refusal(body, "blocked by baomi: x (rule r, incident BM-1)")
    assert status == 200 and ("content-type", "application/x-git-receive-pack-result") in headers
    got = bands(answer)
    assert got[1] == pkt(b"unpack ok\n") + pkt(
        b"ng refs/heads/main blocked by baomi: x (rule r, incident BM-1)\n") + b"0000"
    assert got[2] == b"blocked by baomi: x (rule r, incident BM-1)\n"


def test_refusal_without_side_band_and_from_gzip() -> None:
    body = gzip.compress(push_body(ZERO, "1" * 40, b"PACK", caps="report-status"))
    status, _, answer = gitpack.push_refusal(body, "no\nnewlines")
    assert status == 200
    assert answer == pkt(b"unpack ok\n") + pkt(b"ng refs/heads/main no newlines\n") + b"0000"


def test_refusal_of_unreadable_body_is_403() -> None:
    status, _, answer = gitpack.push_refusal(b"garbage", "blocked")
    assert (status, answer) == (403, b"blocked\n")


class _RefusingGitServer(http.server.BaseHTTPRequestHandler):
    """Advertises an empty repository for receive-pack, answers every push with push_refusal."""

    def do_GET(self) -> None:
        caps = "report-status side-band-64k delete-refs ofs-delta agent=test"
        body = pkt(b"# service=git-receive-pack\n") + b"0000" + pkt(
            f"{ZERO} capabilities^{{}}\x00{caps}\n".encode()) + b"0000"
        self._send(200, [("content-type", "application/x-git-receive-pack-advertisement")], body)

    def do_POST(self) -> None:
        data = self.rfile.read(int(self.headers["content-length"]))
        self._send(*gitpack.push_refusal(data, "blocked by baomi: resident IDs (rule r2, incident BM-7)"))

    def _send(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def refusing_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _RefusingGitServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/repo.git"
    server.shutdown()
    server.server_close()
    thread.join()


def test_real_git_push_shows_the_refusal(repo: dict, refusing_server: str) -> None:
    env = {**os.environ, "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1",
           "GIT_TERMINAL_PROMPT": "0"}
    done = subprocess.run(["git", "-C", str(repo["root"]), "push", refusing_server, "main"],
                          check=False, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1  # git push: a ref the remote rejected
    assert "remote: blocked by baomi: resident IDs (rule r2, incident BM-7)" in done.stderr
    assert ("! [remote rejected] main -> main "
            "(blocked by baomi: resident IDs (rule r2, incident BM-7))") in done.stderr
