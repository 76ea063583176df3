"""Fixtures shared by the end-to-end tests: a test CA for upstream TLS, recording upstreams
and one `baomi run` of the default policy.

The CA is the session's; each test module gets its own upstream servers. A module that only
sends requests through the default policy uses ``default_proxy`` / ``default_client``; one that
reloads, kills or injects faults into its proxy starts its own ``BaomiProcess``.
"""

import asyncio

import pytest
from harness import REPO, BaomiProcess, Upstream, UpstreamCA

from detectors.mask import use_fingerprint_key


@pytest.fixture(scope="session")
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


@pytest.fixture(scope="session")
def default_proxy(tmp_path_factory, upstream_ca) -> BaomiProcess:
    """`baomi run --policy policies/default.yaml`, trusting ``upstream_ca``, shared by every
    module that only sends it requests (a start costs ~7 s of CPU, measured over five modules)."""
    data = tmp_path_factory.mktemp("baomi-default")
    with BaomiProcess(REPO / "policies" / "default.yaml", data, upstream_ca=upstream_ca.pem) as px:
        yield px


@pytest.fixture(scope="module")
def default_client(default_proxy):
    """An httpx client through ``default_proxy`` that trusts its CA."""
    with default_proxy.client() as c:
        yield c


@pytest.fixture(scope="module")
def loop_runner():
    """One event loop for a module's async calls (``loop_runner.run(pool.start())``): a pool
    started on it is used on the same loop."""
    with asyncio.Runner() as runner:
        yield runner


@pytest.fixture(autouse=True)
def no_fingerprint_key_leaks():
    """The masks' fingerprint key is per process (`baomi run` sets it at start-up); a test that
    sets one must not change the masks every later test in this process sees."""
    yield
    use_fingerprint_key(None)
