"""Fixtures shared by the end-to-end tests: a test CA for upstream TLS and recording upstreams.

Module-scoped: each test module gets its own CA and servers (and starts its own proxies).
"""

import pytest
from harness import Upstream, UpstreamCA

from detectors.mask import use_fingerprint_key


@pytest.fixture(scope="module")
def upstream_ca(tmp_path_factory) -> UpstreamCA:
    return UpstreamCA(tmp_path_factory.mktemp("upstream-ca"))


@pytest.fixture(scope="module")
def https_up(upstream_ca):
    with Upstream(tls=upstream_ca) as up:
        yield up


@pytest.fixture(scope="module")
def http_up():
    with Upstream() as up:
        yield up


@pytest.fixture(autouse=True)
def no_fingerprint_key_leaks():
    """The masks' fingerprint key is per process (`baomi run` sets it at start-up); a test that
    sets one must not change the masks every later test in this process sees."""
    yield
    use_fingerprint_key(None)
