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
An option of an addon left out does not exist here: ``--set`` refuses it by name.
"""

from __future__ import annotations

from mitmproxy import master, options
from mitmproxy.addons import (
    block,
    core,
    disable_h2c,
    dns_resolver,
    errorcheck,
    next_layer,
    proxyserver,
    strip_dns_https_records,
    tlsconfig,
    update_alt_svc,
    upstream_auth,
)


def lean_master(opts: options.Options) -> master.Master:
    """A master with baomi's addon chain (add baomi's own addons after it)."""
    m = master.Master(opts, with_termlog=True)
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
