"""The incident log on disk: tampering found and located, torn tails set aside, disk full."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import pytest
from fulldisk import fill, tmpfs
from incidents_cli import keyed_dir, record, run

from proxy.errors import IncidentLogError
from proxy.record.incidents import IncidentStore, framing
from proxy.record.incidents.keys import load_private_keys
from proxy.record.incidents.log import chain_hash
from proxy.record.incidents.verify import verify

LOG1 = "log-00000001.bin"


@pytest.fixture
def written(tmp_path: Path) -> tuple[Path, Path]:
    """One segment: segment, period, 12 incidents, checkpoints every 5 frames, final checkpoint."""
    data_dir, key = keyed_dir(tmp_path)
    store = IncidentStore(data_dir, checkpoint_every=5)
    for i in range(12):
        store.write(record(user=f"user{i:02d}"))
    store.close()
    return data_dir, key


def frames(path: Path) -> list[framing.Frame]:
    items = list(framing.scan(path.read_bytes()))
    assert all(isinstance(i, framing.Frame) for i in items)
    return items  # type: ignore[return-value]


def seq(frame: framing.Frame) -> int:
    return frame.fields["seq"]


def incident_frames(path: Path) -> list[framing.Frame]:
    return [f for f in frames(path) if f.fields["kind"] == "incident"]


def problems(data_dir: Path, key: Path | None = None) -> list[str]:
    keys = load_private_keys([key]) if key else None
    return [str(p) for p in verify(data_dir, keys).problems]


def test_untouched_log_verifies_with_and_without_key(written):
    data_dir, key = written
    assert problems(data_dir) == []
    report = verify(data_dir, load_private_keys([key]))
    assert report.ok and report.macs_checked == report.records > 12
    assert (
        report.checkpoint_seq == report.last_seq - 1
    )  # the checkpoint frame follows what it covers
    assert not report.notes


# --- tampering: each case edits log-00000001.bin around the 6th incident -----------------------


def _flip(buf: bytearray, fs: list[framing.Frame], k: int) -> str:
    buf[fs[k].offset + 40] ^= 0x01
    return f"{LOG1} offset {fs[k].offset}"


def _alter_and_fix_crc(buf: bytearray, fs: list[framing.Frame], k: int) -> str:
    f = fs[k]
    body = f.body.replace(b'"user":"user', b'"user":"USER')
    buf[f.offset : f.end] = framing.encode(body, f.mac, f.hash)
    return f"seq {seq(f)} ({LOG1} offset {f.offset})"


def _delete(buf: bytearray, fs: list[framing.Frame], k: int) -> str:
    del buf[fs[k].offset : fs[k].end]
    return f"seq {seq(fs[k + 1])}"


def _insert(buf: bytearray, fs: list[framing.Frame], k: int) -> str:
    buf[fs[k].end : fs[k].end] = buf[fs[k].offset : fs[k].end]
    return f"seq {seq(fs[k])} ({LOG1} offset {fs[k].end})"


def _reorder(buf: bytearray, fs: list[framing.Frame], k: int) -> str:
    a, b = bytes(buf[fs[k].offset : fs[k].end]), bytes(buf[fs[k + 1].offset : fs[k + 1].end])
    buf[fs[k].offset : fs[k + 1].end] = b + a
    return f"seq {seq(fs[k + 1])} ({LOG1} offset {fs[k].offset})"


@pytest.mark.parametrize(
    "tamper, words",
    [
        (_flip, "checksum mismatch"),
        (_alter_and_fix_crc, "record altered"),
        (_delete, "missing before it (deleted)"),
        (_insert, "inserted or reordered"),
        (_reorder, "missing before it"),
    ],
)
def test_tampering_is_found_and_located(written, tamper, words):
    data_dir, _ = written
    path = data_dir / "incidents" / LOG1
    fs = frames(path)
    k = fs.index(incident_frames(path)[5])
    buf = bytearray(path.read_bytes())
    where = tamper(buf, fs, k)
    path.write_bytes(bytes(buf))
    found = problems(data_dir)
    assert found, "tampering went unnoticed"
    assert where in found[0] and words in found[0], found


@pytest.mark.parametrize("cut", ["frame boundary", "mid-frame"])
def test_truncated_tail_is_found_against_the_checkpoint(written, cut):
    data_dir, _ = written
    path = data_dir / "incidents" / LOG1
    fs = frames(path)
    end = fs[-3].end if cut == "frame boundary" else fs[-3].offset + 30
    os.truncate(path, end)
    found = problems(data_dir)
    assert any(
        "tail truncated" in p and f"last checkpoint covers seq {seq(fs[-2])}" in p for p in found
    )


def test_rewritten_history_is_caught_by_checkpoints_and_by_macs(written):
    """An attacker who recomputes every hash and CRC after an edit still fails two checks."""
    data_dir, key = written
    path = data_dir / "incidents" / LOG1
    fs = frames(path)
    k = fs.index(incident_frames(path)[3])
    out, prev = bytearray(path.read_bytes()[: fs[k].offset]), fs[k - 1].hash
    for f in fs[k:]:
        fields = f.fields
        fields["prev"] = prev.hex()
        if f is fs[k]:
            fields["data"]["meta"]["host"] = "innocent.example.com"
        body = framing.canonical(fields)
        prev = chain_hash(prev, body, f.mac)  # the MAC cannot be recomputed without the key
        out += framing.encode(body, f.mac, prev)
    path.write_bytes(bytes(out))
    without_key = problems(data_dir)
    assert any("checkpoint does not cover" in p for p in without_key)
    assert any("differs from the record the checkpoint signed" in p for p in without_key)
    with_key = problems(data_dir, key)
    assert any(p.startswith(f"seq {seq(fs[k])} ") and "MAC does not verify" in p for p in with_key)


def test_deleted_segment_file_and_data_key_are_reported(tmp_path):
    data_dir, _ = keyed_dir(tmp_path)
    for _ in range(3):  # three writer runs -> three segment files
        store = IncidentStore(data_dir)
        store.write(record())
        store.close()
    (data_dir / "incidents" / "log-00000002.bin").unlink()
    for sealed in (data_dir / "incidents" / "datakeys").iterdir():
        sealed.unlink()
    found = problems(data_dir)
    assert any(p.startswith("log-00000002.bin") and "segment deleted" in p for p in found)
    assert any("sealed data key missing without a purge record" in p for p in found)


def test_verify_command_exits_nonzero_and_names_the_place(written):
    data_dir, key = written
    assert run("incidents", "verify", "--data-dir", str(data_dir), "--key", str(key)).code == 0
    path = data_dir / "incidents" / LOG1
    f = incident_frames(path)[2]
    buf = bytearray(path.read_bytes())
    buf[f.offset + 50] ^= 0xFF
    path.write_bytes(bytes(buf))
    result = run("incidents", "verify", "--data-dir", str(data_dir))
    assert result.code == 1
    assert f"PROBLEM {LOG1} offset {f.offset}" in result.out and "verify: FAILED" in result.out


# --- torn tails ----------------------------------------------------------------------------------


def _valid_frame_prefix(path: Path) -> bytes:
    f = frames(path)[2]
    return path.read_bytes()[f.offset : f.offset + 60]


@pytest.mark.parametrize(
    "tail",
    [
        lambda p: b"BMI",  # partial header
        _valid_frame_prefix,  # header and part of a body
        lambda p: bytes(300),  # zero fill after a power cut
        lambda p: b"\x7fjunk" * 20,  # garbage
    ],
)
def test_torn_tail_is_set_aside_and_the_chain_continues(written, tail):
    data_dir, key = written
    path = data_dir / "incidents" / LOG1
    good = path.read_bytes()
    torn = tail(path)
    path.write_bytes(good + torn)
    store = IncidentStore(data_dir)
    store.write(record())
    store.close()
    assert path.read_bytes() == good
    aside = list((data_dir / "incidents").glob("torn-*.bin"))
    assert [p.read_bytes() for p in aside] == [torn]
    report = verify(data_dir, load_private_keys([key]))
    assert report.ok, report.problems
    assert any("torn tail set aside" in n for n in report.notes)


# --- several writers -----------------------------------------------------------------------------


def test_threads_and_a_second_writer_interleave_into_one_chain(tmp_path):
    data_dir, key = keyed_dir(tmp_path)
    proxy, cli = IncidentStore(data_dir, checkpoint_every=10), IncidentStore(data_dir)

    def worker():
        for _ in range(25):
            proxy.write(record())

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for _ in range(5):
        cli.write(record(rule="other-writer"))
    for t in threads:
        t.join()
    proxy.close()
    cli.close()
    report = verify(data_dir, load_private_keys([key]))
    assert report.ok, report.problems
    code_out = run("incidents", "list", "--data-dir", str(data_dir), "--json")
    assert len(code_out.out.splitlines()) == 105


# --- disk full and unwritable --------------------------------------------------------------------


@pytest.fixture
def tiny_disk(tmp_path: Path):
    with tmpfs(tmp_path / "tiny", "64k") as mnt:
        yield mnt


def test_disk_full_raises_and_leaves_a_readable_log(tiny_disk, tmp_path):
    data_dir, key = tiny_disk / "var", tmp_path / "rk.pem"
    from proxy.record.incidents.keys import init_keys

    init_keys(data_dir, key)
    store = IncidentStore(data_dir)
    store.write(record())
    filler = tiny_disk / "filler"
    fill(filler)
    big = {"entity": "X", "value": "y" * 4000}
    try:
        with pytest.raises(IncidentLogError, match="No space left"):
            store.write(record(evidence=(big,)))
        assert verify(data_dir, load_private_keys([key])).ok  # the failed frame was cut back
        filler.unlink()
        store.write(record())  # space again: writing resumes
    finally:
        store.close()
    report = verify(data_dir, load_private_keys([key]))
    assert report.ok, report.problems


def test_unwritable_incident_dir_raises_incident_log_error(tmp_path):
    data_dir, _ = keyed_dir(tmp_path)
    (data_dir / "incidents").write_text("not a directory")
    with pytest.raises(IncidentLogError):
        IncidentStore(data_dir)


def test_missing_keys_raise_incident_log_error(tmp_path):
    with pytest.raises(IncidentLogError, match="keys init"):
        IncidentStore(tmp_path / "var")


def test_log_files_hold_no_digest_of_the_evidence(written):
    """Belt and braces for the grep test: not even a hash of a raw value is stored."""
    data_dir, _ = written
    digest = hashlib.sha256(b"11010519491231002X").hexdigest().encode()
    for path in data_dir.rglob("*"):
        if path.is_file():
            assert digest not in path.read_bytes()
