"""baomi's mitmproxy master loads only the addons an egress proxy needs (proxy.app.master);
the options the README and deploy docs name keep working, and an option of an addon left
out is refused by name instead of being ignored."""

from __future__ import annotations

import asyncio
import base64
import json
import ssl

import httpx
import pytest
from harness import REPO, BaomiProcess, Upstream


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
    assert ("Error: --set save_stream_file: no such option in baomi: mitmproxy has none by that "
            "name, or it belongs to a mitmproxy addon baomi does not load") in str(e.value)


@pytest.mark.parametrize("name", ["showhost", "content_view_lines_cutoff",
                                  "protobuf_definitions"])
def test_a_base_option_only_a_left_out_addon_reads_is_refused(name):
    from mitmproxy import options

    from proxy.app.master import lean_master
    from proxy.app.run import check_set_names
    from proxy.errors import UsageError

    async def check() -> None:
        opts = options.Options()
        lean_master(opts)
        assert name in opts  # mitmproxy accepts it ...
        check_set_names(opts, ("connection_strategy=lazy", "ignore_hosts=x"))  # real ones pass
        with pytest.raises(UsageError, match=f"--set {name}: baomi does not load the "
                                             "mitmproxy addon that reads this option"):
            check_set_names(opts, (f"{name}=1",))  # ... baomi refuses it

    asyncio.run(check())


CLEAN = json.dumps({"note": "quarterly numbers attached"}).encode()
RESIDENT_ID = "11010519491231002X"


@pytest.mark.e2e
def test_connection_strategy_lazy_serves_and_still_blocks(tmp_path, upstream_ca):
    extra = ("--set", "connection_strategy=lazy", "--set", "block_global=false",
             "--set", "ignore_hosts=^pinned\\.example\\.com:443$")
    with Upstream(tls=upstream_ca) as up, BaomiProcess(
            REPO / "policies" / "default.yaml", tmp_path / "var", upstream_ca=upstream_ca.pem,
            extra_args=extra) as px, httpx.Client(
            proxy=px.url, verify=ssl.create_default_context(cafile=px.ca_pem),
            timeout=30) as client:
        clean = client.post(up.url("/lazy"), content=CLEAN,
                            headers={"content-type": "application/json"})
        leak = client.post(up.url("/lazy"), content=json.dumps({"id_no": RESIDENT_ID}).encode(),
                           headers={"content-type": "application/json"})
    assert (clean.status_code, leak.status_code) == (200, 403)
    assert [(r.path, r.body) for r in up.received] == [("/lazy", CLEAN)]


@pytest.mark.e2e
def test_upstream_mode_sends_upstream_auth_to_the_upstream_proxy(tmp_path):
    # The recording server plays the upstream proxy: a plain-HTTP request reaches it in
    # absolute form, with the Proxy-Authorization mitmproxy's upstream_auth adds.
    with Upstream() as proxy_up:
        extra = ("--mode", f"upstream:http://127.0.0.1:{proxy_up.port}",
                 "--set", "upstream_auth=user:s3cret")
        with BaomiProcess(REPO / "policies" / "default.yaml", tmp_path / "var",
                          extra_args=extra) as px, httpx.Client(proxy=px.url, timeout=30) as c:
            r = c.post("http://api.example.test/upstream", content=CLEAN,
                       headers={"content-type": "application/json"})
    assert r.status_code == 200
    [got] = proxy_up.received
    assert (got.path, got.body) == ("http://api.example.test/upstream", CLEAN)
    assert got.headers["proxy-authorization"] == (
        "Basic " + base64.b64encode(b"user:s3cret").decode())


# -- HookIndex: each hook goes only to the addons that implement it -----------------------------

def test_mitmproxy_internals_the_hook_index_restates():
    """proxy.app.master.HookIndex re-implements these few lines; if mitmproxy changes them,
    the index must change too."""
    import inspect

    from mitmproxy import addonmanager, master

    manager = addonmanager.AddonManager
    assert "self.chain.append(self.register(i))" in inspect.getsource(manager.add)
    for method, call in ((manager.trigger_event, "await self.invoke_addon(i, event)"),
                         (manager.trigger, "self.invoke_addon_sync(i, event)")):
        source = inspect.getsource(method)
        assert "for i in self.chain:" in source and call in source
        assert "with safecall():" in source and "except exceptions.AddonHalt:" in source
    assert "await self.trigger_event(event)" in inspect.getsource(manager.handle_lifecycle)
    assert "self.trigger(hooks.ConfigureHook(updated))" in inspect.getsource(
        manager._configure_all)
    assert "master.options.changed.connect(self._configure_all)" in inspect.getsource(
        manager.__init__)
    init = inspect.getsource(master.Master.__init__)
    assert "self.addons = addonmanager.AddonManager(self)" in init
    assert "self._termlog_addon = termlog.TermLog()" in init
    # the chain's hook calls all go through these two (nothing else walks the chain)
    for name in ("trigger_event", "trigger", "invoke_addon", "invoke_addon_sync", "remove",
                 "clear", "register", "_iter_hooks"):
        assert callable(getattr(manager, name)), name


class Calls:
    """Addons that note each hook they get: sync, async, nested, failing, halting."""

    def __init__(self):
        self.log: list[str] = []

    def addons(self) -> list:
        log = self.log
        from mitmproxy import exceptions

        class Sync:
            def __init__(self, name):
                self.name = name

            def request(self, flow):
                log.append(f"{self.name}.request")

            def running(self):
                log.append(f"{self.name}.running")

            def configure(self, updated):
                if "listen_port" in updated:
                    log.append(f"{self.name}.configure")

            def done(self):
                log.append(f"{self.name}.done")

        class Async:
            name = "async"

            async def request(self, flow):
                log.append("async.request")

        class Nothing:  # implements no hook
            def __init__(self, name):
                self.name = name

        class Parent:
            name = "parent"

            def __init__(self):
                self.addons = [Sync("child"), Nothing("nested-nothing")]

            def response(self, flow):
                log.append("parent.response")

        class Fails:
            name = "fails"

            def request(self, flow):
                log.append("fails.request")
                raise ValueError("addon bug")

        class Halts:
            name = "halts"

            def response(self, flow):
                log.append("halts.response")
                raise exceptions.AddonHalt

        return [Sync("first"), Nothing("nothing"), Async(), Parent(), Fails(), Halts(), Sync("last")]


def hook_calls(make_master) -> list[str]:
    """Drive one master through load, configure, running, request, response, sync trigger,
    a late add and a remove; return the calls in order."""
    from mitmproxy import hooks, options
    from mitmproxy.http import HTTPFlow
    from mitmproxy.proxy.layers.http import HttpRequestHook, HttpResponseHook
    from mitmproxy.test import tflow

    async def drive() -> list[str]:
        calls = Calls()
        m = make_master(options.Options())
        try:
            return await dispatch(m, calls)
        finally:  # the log handlers a master installs outlive this event loop otherwise
            m._legacy_log_events.uninstall()
            if m._termlog_addon is not None:
                m._termlog_addon.uninstall()

    async def dispatch(m, calls: Calls) -> list[str]:
        m.addons.add(*calls.addons())
        m.options.update(listen_port=8181)
        await m.addons.trigger_event(hooks.RunningHook())
        flow: HTTPFlow = tflow.tflow(resp=True)
        await m.addons.handle_lifecycle(HttpRequestHook(flow))
        await m.addons.handle_lifecycle(HttpResponseHook(flow))
        m.addons.trigger(HttpRequestHook(flow))
        late = Calls()
        late.log = calls.log  # one log: the order across both is what is compared
        m.addons.add(late.addons()[0].__class__("late"))
        calls.log.append("--")
        await m.addons.trigger_event(HttpRequestHook(flow))
        m.addons.remove(m.addons.get("first"))
        await m.addons.trigger_event(HttpRequestHook(flow))
        return calls.log

    return asyncio.run(drive())


def test_a_hook_reaches_every_addon_that_implements_it_in_mitmproxys_order(caplog):
    """The same calls, in the same order, as with mitmproxy's own AddonManager: sync and async
    hooks, nested addons, an addon error logged and passed over, AddonHalt stopping the chain,
    an addon added or removed after hooks were dispatched."""
    from mitmproxy import master

    from proxy.app.master import LeanMaster

    stock = hook_calls(lambda opts: master.Master(opts))
    lean = hook_calls(LeanMaster)
    assert lean == stock
    assert lean[:6] == ["first.configure", "child.configure", "last.configure",
                        "first.running", "child.running", "last.running"]
    first_request = ["first.request", "async.request", "child.request", "fails.request",
                     "last.request"]  # fails' error is logged and the chain goes on
    assert lean[6:11] == first_request
    assert lean[11:13] == ["parent.response", "halts.response"]  # halted before last
    added, removed = lean.index("--"), lean.index("first.done")
    assert lean[added + 1:removed] == first_request + ["late.request"]  # a late add gets hooks
    assert lean[removed + 1:] == first_request[1:] + ["late.request"]  # a removed one none
