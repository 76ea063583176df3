"""``content: {images: block}`` through the real proxy: an image upload is refused (its
pixels cannot be inspected), counted; a text upload through the same proxy is not."""

from __future__ import annotations

import struct
import zlib

import httpx
import pytest
from harness import REPO, BaomiProcess, free_port

pytestmark = pytest.mark.e2e


def png(width: int = 4, height: int = 4) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = b"".join(b"\x00" + b"\x80\x20\x10" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


@pytest.fixture(scope="module")
def proxy(tmp_path_factory):
    data = tmp_path_factory.mktemp("images")
    text = (REPO / "policies" / "default.yaml").read_text()
    assert "\ncontent:\n  images: allow" in text
    policy = data / "policy.yaml"
    policy.write_text(text.replace("images: allow", "images: block", 1))
    with BaomiProcess(policy, data / "var", metrics_port=free_port()) as px:
        yield px


def images_counted(px, action: str) -> float:
    text = httpx.get(f"http://127.0.0.1:{px.metrics_port}/metrics", timeout=5).text
    line = f'baomi_uninspected_images_total{{action="{action}"}} '
    return float(next(x for x in text.splitlines() if x.startswith(line)).split()[-1])


def test_image_upload_is_refused_when_the_policy_blocks_images(proxy, http_up) -> None:
    before = len(http_up.received)
    r = httpx.post(http_up.url("/avatar"), proxy=proxy.url, timeout=20,
                   files={"photo": ("me.png", png(), "image/png")})
    assert r.status_code == 403
    assert r.json()["rule"] == "content-images"
    assert len(http_up.received) == before
    assert images_counted(proxy, "block") == 1


def test_text_upload_through_the_same_proxy_passes(proxy, http_up) -> None:
    r = httpx.post(http_up.url("/notes"), proxy=proxy.url, timeout=20,
                   files={"notes": ("notes.txt", b"meeting at ten", "text/plain")})
    assert r.status_code == 200
    assert http_up.received[-1].path == "/notes"
