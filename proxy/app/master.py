"""baomi's mitmproxy master: only the addons an egress proxy needs.

    master = lean_master(options.Options(listen_port=8080, mode=["regular"]))

mitmproxy's ``DumpMaster`` loads ~36 addons and every hook walks that whole chain for every
flow (FIELD-NOTES). baomi keeps what serves, secures or routes traffic:

    core, proxyserver, next_layer, tlsconfig   the proxy itself, TLS, modes, ignore_hosts
    block                                      block_global / block_private (who may connect)
    disable_h2c                                no h2c upgrade past inspection
    strip_dns_https_records, dns_resolver      DNS mode
    upstream_auth                              credentials for an upstream proxy
    update_alt_svc                             reverse/upstream modes keep Alt-Svc right
    errorcheck, termlog                        report start-up errors (and stop on them)

Left out on purpose: flow saving (``save``, ``savehar``: they would write raw personal data
to disk), scripts, map/modify/replay addons, mitmproxy's own ``proxyauth`` (it keeps the
password in ``flow.metadata``; baomi's identity replaces it), the console and web helpers.
An option of an addon left out does not exist here: ``--set`` refuses it by name, and so
does one mitmproxy's base Options define but only a left-out addon reads (``UNREAD_OPTIONS``).
mitmproxy's ``keepserving`` is left out too: it only stops a replay or file read (addons not
loaded) and its ``running`` hook reads their options, which this master does not define.

Each hook goes only to the addons that implement it (``HookIndex``): mitmproxy walks the
whole chain for every hook of every flow (~130 addon calls per request, half the proxy
process's time under bodiless GETs), though most hooks have one or two takers.
"""

from __future__ import annotations

from mitmproxy import addonmanager, exceptions, hooks, master, options
from mitmproxy.addons import (
    block,
    core,
    disable_h2c,
    dns_resolver,
    errorcheck,
    next_layer,
    proxyserver,
    strip_dns_https_records,
    termlog,
    tlsconfig,
    update_alt_svc,
    upstream_auth,
)


class HookIndex(addonmanager.AddonManager):
    """mitmproxy's AddonManager, but a hook skips the chain's addons that cannot take it.

        index.trigger_event(hooks.RunningHook())   # only the addons with a ``running``

    Same semantics: chain order, nested addons (an addon's ``addons``, searched as mitmproxy
    does), sync and async hooks, errors logged per addon, ``AddonHalt`` stops the chain. Only
    the list of takers is new: per hook name, the chain's addons that have (or nest an addon
    that has) an attribute of that name, kept until the chain changes (``add``, ``remove``,
    ``clear``). The calls themselves still go through mitmproxy's ``invoke_addon``. A nested
    addon added later to an addon's ``addons`` is not seen until the chain next changes (none
    of this chain nests; mitmproxy's script loader, which does, is not loaded).
    tests/test_lean_master.py pins the mitmproxy code this restates.
    """

    def __init__(self, master):
        super().__init__(master)
        self._takers: dict[str, tuple] = {}

    def add(self, *addons):
        for addon in addons:  # as AddonManager.add, but the index is rebuilt after each one
            self.chain.append(self.register(addon))
            self._takers.clear()

    def remove(self, addon):
        super().remove(addon)
        self._takers.clear()

    def clear(self):
        super().clear()
        self._takers.clear()

    def takers(self, name: str) -> tuple:
        """The chain's addons that implement hook ``name``, in chain order."""
        found = self._takers.get(name)
        if found is None:
            found = self._takers[name] = tuple(
                top for top in self.chain
                if any(getattr(a, name, None) is not None
                       for a in addonmanager.traverse([top])))
        return found

    async def trigger_event(self, event: hooks.Hook):
        for addon in self.takers(event.name):
            try:
                with addonmanager.safecall():
                    await self.invoke_addon(addon, event)
            except exceptions.AddonHalt:
                return

    def trigger(self, event: hooks.Hook):
        for addon in self.takers(event.name):
            try:
                with addonmanager.safecall():
                    self.invoke_addon_sync(addon, event)
            except exceptions.AddonHalt:
                return


class LeanMaster(master.Master):
    """``master.Master`` with a ``HookIndex`` in place of its AddonManager, and termlog."""

    def __init__(self, opts: options.Options):
        super().__init__(opts, with_termlog=False)
        opts.changed.disconnect(self.addons._configure_all)  # the replaced manager's
        self.addons = HookIndex(self)
        self._termlog_addon = termlog.TermLog()  # Master.shutdown uninstalls it
        self.addons.add(self._termlog_addon)


# Defined on mitmproxy's base Options, read only by the console, the flow dumper and the
# content views, none of them loaded: a --set of these would be silently ignored.
UNREAD_OPTIONS = ("showhost", "content_view_lines_cutoff", "protobuf_definitions")


def lean_master(opts: options.Options) -> master.Master:
    """A master with baomi's addon chain (add baomi's own addons after it)."""
    m = LeanMaster(opts)
    m.addons.add(
        core.Core(),
        block.Block(),
        strip_dns_https_records.StripDnsHttpsRecords(),
        disable_h2c.DisableH2C(),
        proxyserver.Proxyserver(),
        dns_resolver.DnsResolver(),
        next_layer.NextLayer(),
        tlsconfig.TlsConfig(),
        upstream_auth.UpstreamAuth(),
        update_alt_svc.UpdateAltSvc(),
        errorcheck.ErrorCheck(),
    )
    return m
