"""baomi's mitmproxy master loads only the addons an egress proxy needs (proxy.app.master);
the options the README and deploy docs name keep working, and an option of an addon left
out is refused by name instead of being ignored."""

from __future__ import annotations

import asyncio

import pytest
from harness import REPO, BaomiProcess


def addon_names() -> set[str]:
    from mitmproxy import options

    from proxy.app.master import lean_master

    async def build() -> set[str]:
        master = lean_master(options.Options())
        return {type(a).__name__ for a in master.addons.chain}

    return asyncio.run(build())


def test_the_master_carries_what_serves_and_secures_traffic_and_nothing_that_saves_it():
    names = addon_names()
    assert {"Core", "Proxyserver", "NextLayer", "TlsConfig", "Block", "DisableH2C",
            "UpstreamAuth"} <= names
    # flow saving would write raw personal data to disk; mitmproxy's proxyauth keeps passwords
    assert not names & {"Save", "SaveHar", "ProxyAuth", "ScriptLoader", "Dumper", "MapLocal"}


@pytest.mark.e2e
def test_an_option_of_an_addon_left_out_is_refused_by_name(tmp_path):
    px = BaomiProcess(REPO / "policies" / "default.yaml", tmp_path / "var",
                      extra_args=("--set", "save_stream_file=/tmp/flows"))
    with pytest.raises(RuntimeError) as e:
        px.start(timeout=120)
    assert px.proc.returncode == 2
    assert "Error: --set:" in str(e.value) and "save_stream_file" in str(e.value)


@pytest.mark.e2e
def test_the_options_the_docs_name_are_accepted(tmp_path, upstream_ca):
    extra = ("--set", "connection_strategy=lazy", "--set", "upstream_auth=user:secret",
             "--set", "ignore_hosts=^pinned\\.example\\.com:443$", "--set", "block_global=false")
    with BaomiProcess(REPO / "policies" / "default.yaml", tmp_path / "var",
                      upstream_ca=upstream_ca.pem, extra_args=extra) as px:
        assert px.proc.poll() is None
