"""The only module that touches mitmproxy hooks.

    request  -> facts + RawRequest -> pool.inspect (extract, detect; off the loop)
             -> decide (policy) -> act (block / mask / allow / monitor) -> record

Every hook catches its own failures: mitmproxy logs an addon exception and sends the
flow upstream anyway, so an uncaught error here would let data out. Whatever goes
wrong gets the policy's failure action (default block), is counted and recorded.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial

from mitmproxy import ctx, http, tcp, tls, udp
from mitmproxy.net.http import url

from policies.decide import failure_decision
from policies.facts import Decision, RequestFacts
from proxy.errors import (
    BaomiError,
    CannotMask,
    IdentityUnavailable,
    IncidentLogError,
    InspectionError,
)
from proxy.extraction.extract import RawRequest
from proxy.hook import respond, websocket_close
from proxy.hook.state import Runtime
from proxy.identity.resolve import Claims
from proxy.identity.session import Identification, lookup_timeout
from proxy.observe.metrics import Metrics
from proxy.pipeline import limits_of, mask_sets, process
from proxy.record.build import decision_record
from proxy.record.decisions import DecisionRecord, Recorder
from proxy.record.incidents.store import should_record
from proxy.record.unseen import uninspected_host, uninspected_path
from proxy.record.writer import RecordWriter
from proxy.workers.inspection import Inspection
from proxy.workers.pool import InspectionPool
from proxy.workers.probe import opens_any

log = logging.getLogger("baomi.addon")




class BaomiAddon:
    def __init__(self, runtime: Runtime, pool: InspectionPool, recorder: Recorder,
                 metrics: Metrics | None = None):
        self.runtime = runtime  # holds the current policy; swapped atomically on reload
        self.pool = pool
        self.recorder = recorder
        self.writer = RecordWriter(recorder)  # durable records, in groups, off the loop
        self.metrics = metrics or Metrics(mode=runtime.mode_kind)
        self.identification = Identification()  # who sent it; tunnel identities per connection
        # called with the reason once the recorder takes no further record until a restart
        # (a failed fsync): `baomi run` drains and exits so the process is restarted
        self.on_record_stop: Callable[[str], None] | None = None

    # -- mitmproxy hooks ---------------------------------------------------------------

    def running(self) -> None:
        self.apply_limits()

    def apply_limits(self) -> None:
        """Map the policy's body limit onto mitmproxy: refuse early or stream, never buffer unbounded."""
        policy = self.runtime.policy
        limit = str(policy.limits.max_body_bytes)
        if policy.failure.on_oversize == "block":
            ctx.options.update(body_size_limit=limit, stream_large_bodies=None)
        else:
            ctx.options.update(body_size_limit=None, stream_large_bodies=limit)

    async def request(self, flow: http.HTTPFlow) -> None:
        if flow.request.stream and isinstance(flow.metadata.get("baomi"), DecisionRecord):
            return  # streamed: decided and recorded before its body went (baomi_stream)
        started = time.monotonic()
        # A reload swaps the pool and the policy together: read them together (before the
        # sender's lookup awaits), so no request is decided by one and inspected by the other.
        policy, pool = self.runtime.policy, self.pool
        if (found := facts_and_names_or_kill(flow)) is None:
            return
        facts, parts, names = found
        try:
            identified = await self._identify(flow, facts, started)
            if identified is None:
                return  # answered: 407, or the identity backend's failure action
            facts = identified
            self.metrics.identity(facts.identity_method)
            if flow.request.trailers:  # HTTP/2: fields no extraction reads; HTTP/1 gets a 400
                decision = Decision("block", "on_protocol_error", TRAILERS_REFUSED)
                self.metrics.protocol_refused("request trailers")
                await self._finish(flow, facts, decision, None, started, uninspected="undecodable")
                return
            if "#" in flow.request.path:  # no view reads a fragment; the upstream would get it
                decision = Decision("block", "on_protocol_error", FRAGMENT_REFUSED)
                self.metrics.protocol_refused("malformed request")
                await self._finish(flow, facts, decision, None, started, uninspected="undecodable")
                return
            if flow.request.stream:  # over the limit with on_oversize allow/monitor
                decision = failure_decision(policy, "oversize", facts, "body over max_body_bytes")
                await self._finish(flow, facts, decision, None, started, uninspected="oversize")
                return
            raw = raw_request(flow, parts)
            outcome = await process(policy, facts, names, raw,
                                    partial(pool.inspect, maskable=mask_sets(policy)))
            decision, inspection = outcome.decision, outcome.inspection
            if inspection is not None:
                self.metrics.images(inspection.images, decision)
                self.metrics.ner_skipped(inspection.ner_skipped_bytes)
                if decision.action == "mask":
                    decision = await self._mask(flow, raw, limits_of(policy), inspection, decision)
            await self._finish(flow, facts, decision, inspection, started,
                               uninspected=outcome.uninspected, error_stage=outcome.error_stage)
        except Exception as e:  # any bug of ours: fail closed
            log.error("inspection failed: %s", type(e).__name__, exc_info=not isinstance(e, BaomiError))
            self._fail_closed(flow, facts, started, e)

    async def http_connect(self, flow: http.HTTPFlow) -> None:
        """A CONNECT's target is inspected before mitmproxy resolves or connects to it: a
        host name that carries customer data (``<resident id>.example``) would leave through
        the DNS lookup alone. Found data in the name blocks the tunnel (a name cannot be
        masked); a clean name goes on, and the requests inside are inspected as usual."""
        started = time.monotonic()
        policy, pool = self.runtime.policy, self.pool  # together, as in ``request``
        if (facts := facts_or_kill(flow)) is None:
            return
        try:
            identified = await self._identify(flow, facts, started)
            if identified is None:
                return  # answered: 407, or the identity backend's failure action
            facts = identified
            raw = RawRequest("CONNECT", f"https://{flow.request.authority}/",
                             hosts=host_names(flow))
            outcome = await process(policy, facts, destination_names(flow), raw, pool.inspect)
            decision, inspection = outcome.decision, outcome.inspection
            if inspection is None:  # inspection failed: the failure action, if it blocks
                if decision.action == "block":
                    await self._finish(flow, facts, decision, None, started,
                                       uninspected=outcome.uninspected,
                                       error_stage=outcome.error_stage)
                return
            if not inspection.findings:
                return  # a clean name: the tunnel's requests are decided one by one
            if decision.action == "mask":
                decision = replace(decision, action="block", reason="customer data in the host "
                                   "name; a host name cannot be masked")
            if decision.action != "allow":  # block, or monitor: recorded either way
                await self._finish(flow, facts, decision, inspection, started)
        except Exception as e:  # noqa: BLE001 - any failure blocks the tunnel (fail closed)
            log.error("CONNECT inspection failed: %s", type(e).__name__)
            self._fail_closed(flow, facts, started, e)

    def tls_clienthello(self, data: tls.ClientHelloData) -> None:
        """Certificate-pinned apps listed in ``passthrough`` are tunnelled uninspected, and every
        such connection is recorded and counted as uninspected."""
        try:
            names = passthrough_names(data)
            policy = self.runtime.policy
            if not names or not all(policy.passes_through(n) for n in names):
                return
            data.ignore_connection = True
            client = data.context.client.peername[0] if data.context.client.peername else ""
            server = data.context.server.address
            facts = RequestFacts(source_ip=client, host=names[0], port=server[1] if server else 443,
                                 scheme="https", method="CONNECT", path="",
                                 time=datetime.now(UTC),
                                 destination_ip=server[0] if server else None)
            facts = self._tunnel_sender(data.context.client.id, facts)
            decision = Decision("allow", "passthrough", "listed in the policy's passthrough")
            record = self._record(facts, decision, None, time.monotonic(), "passthrough", None)
            self.recorder.write(record)
            self._observe(record)
        except Exception as e:  # noqa: BLE001 - any failure means inspect, never pass through
            # Not recorded means not allowed through uninspected: intercept as usual instead.
            data.ignore_connection = False
            log.error("passthrough check failed (%s); inspecting instead", type(e).__name__)

    async def websocket_message(self, flow: http.HTTPFlow) -> None:
        """Client-to-server WebSocket messages are inspected like request bodies. A blocked
        message is dropped and the connection closed; a masked one is rewritten."""
        assert flow.websocket is not None  # mitmproxy calls this hook on WebSocket flows only
        message = flow.websocket.messages[-1]
        if not message.from_client:
            return
        started = time.monotonic()
        policy = self.runtime.policy
        try:
            facts = sender_of_upgrade(flow, replace(facts_from_flow(flow), method="WEBSOCKET"))
            raw = websocket_request(flow, message)
            outcome = await process(policy, facts, destination_names(flow), raw,
                                    partial(self.pool.inspect, maskable=mask_sets(policy)))
            decision, inspection = outcome.decision, outcome.inspection
            if inspection is not None:
                self.metrics.images(inspection.images, decision)
                self.metrics.ner_skipped(inspection.ner_skipped_bytes)
                if decision.action == "mask":
                    decision = await self._mask_message(message, raw, limits_of(policy),
                                                        inspection, decision)
            record = self._record(facts, decision, inspection, started, outcome.uninspected,
                                  outcome.error_stage)
            await self._write(record)
            self._observe(record)
            if decision.action == "block":
                close_websocket(flow, message, record.incident_id)
        except Exception as e:  # noqa: BLE001 - any failure takes the failure action
            log.error("websocket inspection failed: %s", type(e).__name__)
            self.metrics.detection_error("act")
            close_websocket(flow, message)

    async def _mask_message(self, message, raw, limits, inspection, decision) -> Decision:
        try:
            rewritten = await self._rewritten(raw, limits, inspection, decision)
        except CannotMask as e:
            return replace(decision, action="block",
                           reason=f"cannot mask this message ({e}); blocked instead")
        message.content = rewritten.body
        return decision

    def tcp_start(self, flow: tcp.TCPFlow) -> None:
        """A tunnel that is neither HTTP nor TLS (e.g. CONNECT to port 22) cannot be inspected:
        it gets the policy's ``on_uninspectable`` action instead of flowing through unseen."""
        self._raw_stream(flow, "raw TCP tunnel, not HTTP")

    def udp_start(self, flow: udp.UDPFlow) -> None:
        self._raw_stream(flow, "raw UDP stream, not HTTP")

    def _raw_stream(self, flow, what: str) -> None:
        try:
            address = flow.server_conn.address
            peer = flow.client_conn.peername
            facts = RequestFacts(
                source_ip=peer[0] if peer else "", host=flow.client_conn.sni or (address[0] if address else ""),
                port=address[1] if address else 0, scheme=flow.type, method=flow.type.upper(),
                path="", time=datetime.now(UTC), destination_ip=address[0] if address else None,
            )
            facts = self._tunnel_sender(flow.client_conn.id, facts)
            decision = failure_decision(self.runtime.policy, "uninspectable", facts, what)
            record = self._record(facts, decision, None, time.monotonic(), "undecodable", None)
            if decision.action == "block":
                flow.metadata["baomi_blocked"] = True
            self.recorder.write(record)
            self._observe(record)
        except Exception:
            log.exception("could not decide on a raw stream; closing it")
            flow.metadata["baomi_blocked"] = True

    def tcp_message(self, flow: tcp.TCPFlow) -> None:
        # mitmproxy's TCP layer does not check flow.kill(): empty the message and close instead.
        if flow.metadata.get("baomi_blocked"):
            flow.messages[-1].content = b""
            close_connection(flow)

    def udp_message(self, flow: udp.UDPFlow) -> None:
        if flow.metadata.get("baomi_blocked"):
            flow.messages[-1].content = b""
            close_connection(flow)

    async def baomi_stream(self, flow: http.HTTPFlow) -> None:
        """A body over ``max_body_bytes`` with ``on_oversize`` allow/monitor, before any byte of
        it goes upstream (see ``proxy.hook.httplayer``): identified and recorded here, awaited,
        so traffic that needs a record never passes without one; a failed write answers 503
        on_record_failure (``flow.response``), which refuses the body instead of streaming it.
        ``request`` at the body's end then leaves it be: one record per request."""
        await self.request(flow)

    async def baomi_oversize(self, flow: http.HTTPFlow) -> None:
        """A request body over ``max_body_bytes``, not (fully) read: answered at once with
        baomi's refusal and an incident; nothing is forwarded (see ``proxy.hook.httplayer``)."""
        started = time.monotonic()
        if (facts := facts_or_kill(flow)) is None:
            return
        try:
            decision = failure_decision(self.runtime.policy, "oversize", facts,
                                        "body over max_body_bytes")
            if decision.action != "block":  # the body is gone: it cannot be forwarded now
                decision = replace(decision, action="block", would_be=None)
            await self._finish(flow, facts, decision, None, started, uninspected="oversize")
        except Exception as e:  # noqa: BLE001 - any failure blocks the request (fail closed)
            log.error("oversize refusal failed: %s", type(e).__name__)
            self._fail_closed(flow, facts, started, e)

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        """Responses are not inspected: every one streams to the client as it arrives
        (downloads of any size, server-sent events, long polls), never buffered whole.
        A masked request's client gets its incident id, like a blocked one."""
        if not flow.response:
            return
        flow.response.stream = True
        record = flow.metadata.get("baomi")
        if isinstance(record, DecisionRecord) and record.action == "mask":
            flow.response.headers["x-baomi-incident"] = record.incident_id

    def error(self, flow: http.HTTPFlow) -> None:
        """A request that was decided and forwarded, whose exchange then failed (upstream
        unreachable, response cut, client gone), gets a second record saying so: the log must
        not show a failed transfer as a plain allow. A body mitmproxy itself refused over
        body_size_limit (no addon answered) is recorded as an oversize block."""
        try:
            record = flow.metadata.get("baomi")
            if isinstance(record, DecisionRecord):
                if record.action != "block" and not flow.is_replay:
                    self._record_outcome(flow, record)
            elif flow.error and "body_size_limit" in flow.error.msg and flow.request:
                facts = facts_from_flow(flow)
                policy = self.runtime.policy
                decision = failure_decision(policy, "oversize", facts, "body over max_body_bytes")
                record = self._record(facts, decision, None, time.monotonic(), "oversize", None)
                self.recorder.write(record)
                self._observe(record)
            elif (reason := protocol_refusal(flow)) is not None:
                self._record_refusal(flow, reason)
        except Exception:
            log.exception("could not record a failed exchange")

    def _record_refusal(self, flow: http.HTTPFlow, reason: str) -> None:
        """mitmproxy's parser refused the request (smuggling, bad framing, trailers): nothing
        was forwarded, but a reviewer must see the attempt. One record, one count."""
        facts = facts_from_flow(flow)
        decision = Decision("block", "on_protocol_error", f"malformed request refused: {reason}")
        record = self._record(facts, decision, None, time.monotonic(), "undecodable", None)
        flow.metadata["baomi"] = record
        self.metrics.protocol_refused(reason)
        self.recorder.write(record)
        self._observe(record)

    def _record_outcome(self, flow: http.HTTPFlow, record: DecisionRecord) -> None:
        outcome = outcome_of(flow)
        self.metrics.exchange_failed(outcome)
        now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        self.recorder.write(replace(record, time=now, outcome=outcome, evidence=()))

    def client_disconnected(self, client) -> None:
        self.identification.forget(client.id)

    def _tunnel_sender(self, connection: str, facts: RequestFacts) -> RequestFacts:
        """Passthrough and raw tunnels are recorded with the user their CONNECT proved."""
        identity = self.identification.known(connection)
        if identity is None:
            return facts
        return replace(facts, user=identity.user, groups=identity.groups,
                       identity_method=identity.method)

    # -- steps ----------------------------------------------------------------------------

    async def _identify(self, flow: http.HTTPFlow, facts: RequestFacts,
                        started: float) -> RequestFacts | None:
        """The facts with the sender (proxy.identity), or None once the flow is answered: 407
        for missing or wrong proxy credentials; the policy's on_error when the identity
        backend cannot answer. Proxy-Authorization and the trusted user header are removed
        here, before inspection and forwarding: no credential reaches a worker or upstream."""
        policy = self.runtime.policy
        settings = policy.identity
        if settings is None:
            return facts
        claims = identity_claims(flow, settings)
        connect = flow.request.method == "CONNECT"
        try:
            result = await self.identification.identify(
                settings, claims, None if connect else flow.client_conn.id,
                lookup_timeout(settings, policy.limits.timeout_seconds))
        except IdentityUnavailable as e:
            self.metrics.identity_rejected("unavailable")
            decision = failure_decision(policy, "error", facts, str(e))
            await self._finish(flow, facts, decision, None, started, uninspected="error")
            return None
        if result.untrusted_header:
            self.metrics.identity_rejected("untrusted_header")
        if result.challenge is not None:
            self.metrics.identity_rejected(f"{result.challenge}_credentials")
            respond.challenge(flow, settings.proxyauth.realm if settings.proxyauth else "baomi")
            return None
        identity = result.identity
        if connect:
            self.identification.remember(flow.client_conn.id, identity)
        return replace(facts, user=identity.user, groups=identity.groups,
                       identity_method=identity.method)


    async def _mask(self, flow, raw, limits, inspection: Inspection, decision: Decision) -> Decision:
        try:
            rewritten = await self._rewritten(raw, limits, inspection, decision)
        except CannotMask as e:
            return replace(decision, action="block",
                           reason=f"cannot mask this content ({e}); blocked instead")
        except InspectionError as e:  # the rewrite timed out or its worker died
            return failure_decision(self.runtime.policy, e.kind, facts_from_flow(flow), str(e))
        respond.apply_rewrite(flow, rewritten)
        return decision

    async def _rewritten(self, raw, limits, inspection: Inspection, decision: Decision) -> RawRequest:
        """The masked request: made from the extraction that found the data (in this process,
        or prepared by the worker with its findings); a second worker call only for a mask
        nobody prepared. Raises CannotMask, or InspectionError for that second call."""
        to_mask = tuple(f for f in inspection.findings if f.entity in decision.mask_entities)
        rewritten = inspection.rewrite(to_mask)
        if rewritten is None:
            rewritten = await self.pool.mask(raw, limits, to_mask,
                                             self.runtime.policy.limits.timeout_seconds)
        return rewritten

    async def _finish(self, flow, facts, decision: Decision, inspection: Inspection | None,
                      started: float, uninspected: str | None = None,
                      error_stage: str | None = None) -> None:
        record = self._record(facts, decision, inspection, started, uninspected, error_stage)
        flow.metadata["baomi"] = record
        try:
            await self._write(record)
        except IncidentLogError as e:
            # Traffic that needs a record does not pass without one.
            log.error("%s", e)
            self.metrics.incident_log_failure()
            self.metrics.set_ready("incident_log", False)
            record = replace(record, action="block", rule="on_record_failure",
                              reason="the incident log cannot record", error_stage="record",
                              incident_id="")  # it was never written: the 503 quotes none
            flow.metadata["baomi"] = record
            respond.block(flow, record, status=503)
            self._observe(record)
            if self.on_record_stop and (why := getattr(self.recorder, "stopped", None)):
                self.on_record_stop(why)
            return
        if should_record(record) or await self._incident_log_recovered():
            self.metrics.set_ready("incident_log", True)
        if decision.action == "block":
            respond.block(flow, record)
        self._observe(record)

    async def _incident_log_recovered(self) -> bool:
        """Ready again only once the incident log could take a record: a request that needed
        none proves nothing, but probes the log so a drained (not-ready) proxy can come back."""
        if self.metrics.ready().get("incident_log", True):
            return False  # ready already: nothing to change
        probe = getattr(self.recorder, "probe", None)
        return probe is not None and await asyncio.get_running_loop().run_in_executor(None, probe)

    async def _write(self, record: DecisionRecord) -> None:
        """Durable records (incidents, fsync) are written off the loop by the record writer,
        in groups; a clean allow is one short append to the decision log, cheaper inline."""
        if should_record(record) or record.action != "allow":
            await self.writer.write(record)
        else:
            self.recorder.write(record)

    def _fail_closed(self, flow, facts, started, exc: Exception) -> None:
        try:
            decision = failure_decision(self.runtime.policy, "error", facts, type(exc).__name__)
            record = self._record(facts, decision, None, started, "error", "act")
            flow.metadata["baomi"] = record
            if decision.action == "block":
                respond.block(flow, record)
            try:
                self.recorder.write(record)
            except Exception:
                log.exception("could not record a failed inspection")
                self.metrics.incident_log_failure()
                record = replace(record, incident_id="")
                flow.metadata["baomi"] = record
                respond.block(flow, record, status=503)
            self._observe(record)
        except Exception:
            log.exception("failure handling failed; killing the flow")
            flow.kill()

    def _record(self, facts, decision, inspection, started, uninspected, error_stage):
        if inspection is None:  # nothing saw the URL: no raw value of its path or host in clear
            triage = getattr(self.pool, "triage", None)
            selector = triage.selector if triage is not None else None
            limits = limits_of(self.runtime.policy)
            opens = partial(_opens, limits=limits)  # a hex or base64 value: withheld too
            facts = replace(facts, path=uninspected_path(facts.path, selector, opens),
                            host=uninspected_host(facts.host, selector, opens))
        return decision_record(
            facts, decision, inspection,
            policy_hash=decision.policy_hash or self.runtime.policy.hash,
            mode=self.runtime.mode_kind, seconds=time.monotonic() - started,
            uninspected=uninspected, error_stage=error_stage,
        )

    def _observe(self, record: DecisionRecord) -> None:
        try:
            if record.error_stage:
                self.metrics.detection_error(record.error_stage)
            self.metrics.observe(record)
        except Exception:  # metrics must never turn a decided request into an error
            log.exception("metrics failed")


# An HTTP/2 request with trailer fields: they would go upstream uninspected (review R7).
TRAILERS_REFUSED = "request trailers refused: they would pass uninspected"
# A raw '#' in the request target (RFC 9112 allows none): extraction reads the URL without its
# fragment, mitmproxy forwards it whole (review R9: /v1/x#13800138000 went out unread).
FRAGMENT_REFUSED = "a fragment ('#') in the request target refused: it would pass uninspected"


def _opens(text: str, limits) -> bool:
    """Would extraction open a layer in ``text`` (a record's path segment or host label)?"""
    return opens_any((text,), limits)


# mitmproxy's refusal messages can quote the offending header: only these fixed words
# (proxy.observe.metrics.PROTOCOL_REFUSALS) reach records and metrics.
_REFUSALS = (
    ("body timeout", "request body timeout"),  # proxy.hook.httplayer's body deadline
    ("trailer", "chunked trailers"),
    ("both transfer-encoding and content-length", "both Content-Length and Transfer-Encoding"),
    ("transfer-encoding", "bad Transfer-Encoding"),
    ("content-length", "bad Content-Length"),
    ("chunk", "bad chunked framing"),
)


def protocol_refusal(flow: http.HTTPFlow) -> str | None:
    """Why mitmproxy refused a request it never finished reading, or None when it did not
    (a client that went away, a flow we killed, an upstream failure)."""
    if not flow.error or flow.response is not None or flow.request.timestamp_end is not None:
        return None
    message = flow.error.msg.lower()
    if "disconnect" in message or message == "connection killed." or "killed" in message:
        return None
    for needle, reason in _REFUSALS:
        if needle in message:
            return reason
    return "malformed request"


def outcome_of(flow: http.HTTPFlow) -> str:
    """What failed, from mitmproxy's error message: a fixed word, never the message itself
    (it can name hosts and addresses)."""
    message = (flow.error.msg if flow.error else "").lower()
    if "client disconnected" in message or "client closed" in message:
        return "client_aborted"
    if flow.response is not None:
        return "response_cut"
    if "tls" in message or "certificate" in message or "ssl" in message:
        return "upstream_tls"
    if "connect" in message or "refused" in message or "resolve" in message \
            or "unreachable" in message or "timed out" in message or "name or service" in message:
        return "upstream_connect"
    if "server disconnected" in message or "peer closed" in message:
        return "response_cut"
    return "other"


def passthrough_names(data) -> list[str]:
    """SNI and the CONNECT/redirect host: all must be listed for a connection to pass through."""
    names = []
    sni = data.client_hello.sni
    server = data.context.server.address
    for name in (sni, server[0] if server else None):
        if name and name.lower().rstrip(".") not in names:
            names.append(name.lower().rstrip("."))
    if data.context.client.proxy_mode.type_name == "transparent" and sni:
        names = [sni.lower().rstrip(".")]  # the redirect address is an IP, not a name
    return names


def identity_claims(flow: http.HTTPFlow, settings) -> Claims:
    """What the request says about its sender; the headers that said it are removed.

    Proxy-Authorization is kept only when mitmproxy's ``upstream_auth`` sets its own for an
    upstream proxy (it overwrites the client's). The user header is removed whoever sent it.
    """
    headers = flow.request.headers
    explicit = flow.client_conn.proxy_mode.type_name in ("regular", "upstream")
    credentials = headers.get("proxy-authorization")
    if credentials is not None and not _upstream_auth():
        del headers["proxy-authorization"]
    user = None
    if settings.header is not None:
        values = headers.get_all(settings.header.name)
        if values:
            del headers[settings.header.name]
            user = values[0] if len(values) == 1 else ""  # two values: ambiguous, no user
    peer = flow.client_conn.peername
    return Claims(peer[0] if peer else "", explicit, credentials, user)


def _upstream_auth() -> str | None:
    """mitmproxy's ``upstream_auth`` option (absent when its addon is not loaded)."""
    try:
        return ctx.options.upstream_auth
    except AttributeError:
        return None


def sender_of_upgrade(flow: http.HTTPFlow, facts: RequestFacts) -> RequestFacts:
    """A WebSocket message is sent by whoever sent the upgrade request (its record)."""
    record = flow.metadata.get("baomi")
    if not isinstance(record, DecisionRecord):
        return facts
    return replace(facts, user=record.user, groups=frozenset(record.user_groups),
                   identity_method=record.identity)


def websocket_request(flow: http.HTTPFlow, message) -> RawRequest:
    content = message.content
    stripped = content.lstrip()[:1]
    ctype = "application/json" if stripped in (b"{", b"[") else (
        "text/plain; charset=utf-8" if message.is_text else "application/octet-stream")
    return RawRequest(method="WEBSOCKET", url=pretty_url(flow.request),
                      headers=(("content-type", ctype),), body=content, hosts=host_names(flow))


def close_websocket(flow: http.HTTPFlow, message, incident_id: str | None = None) -> None:
    """Drop the message and close the socket with 1008 (policy violation) and the incident id
    as its reason; if that cannot be done, cut the connection (fail closed)."""
    message.drop()
    try:
        if websocket_close.close_for_policy(flow, incident_id):
            return
    except Exception:
        log.exception("could not close the WebSocket with a reason; cutting it")
    close_connection(flow)


def close_connection(flow) -> None:
    """Close the client's and server's transports of a flow.

    mitmproxy 12's WebSocket and TCP layers have no kill path (``flow.kill()`` is only
    checked by the HTTP layer), so the transports are closed through the proxy server's
    connection handler.
    """
    if flow.killable:
        flow.kill()
    server = ctx.master.addons.get("proxyserver")
    handler = server.connections.get(flow.client_conn.id) if server else None
    if handler is None:
        return
    for io in list(handler.transports.values()):
        if io.writer is not None:
            io.writer.close()


def destination_names(flow: http.HTTPFlow, parts: NameParts | None = None) -> list[str]:
    """Every name the destination goes by: the SNI, the Host header, and the host mitmproxy
    connects to. All are decided on and the strictest decision wins, so a client cannot
    borrow a friendlier name (domain fronting, a CONNECT to one host with another's Host).

    In transparent mode ``request.host`` is the redirected IP: it is matched as an address
    (``RequestFacts.destination_ip``), not as a name, unless there is no name at all.
    """
    sni, header, host = parts or name_parts(flow)
    transparent = flow.client_conn.proxy_mode.type_name == "transparent"
    candidates = (sni, header) if transparent else (sni, header, host)
    names: list[str] = []
    for name in candidates:
        if name and name.lower().rstrip(".") not in names:
            names.append(name.lower().rstrip("."))
    return names or [host.lower()]


NameParts = tuple[str | None, str | None, str]


def name_parts(flow: http.HTTPFlow) -> NameParts:
    """The SNI, the Host header's host (or None) and the host mitmproxy connects to: what
    ``destination_names`` and ``host_names`` are made of, read once per request (``pretty_host``
    parses the header each time it is read)."""
    req = flow.request
    header = req.host_header
    return flow.client_conn.sni, (authority(header)[0] if header else None), req.host


def pretty_url(req: http.Request) -> str:
    """``req.pretty_url``, with the Host header parsed by ``authority`` (mitmproxy parses it
    on every read; tests/test_addon_authority_s22.py holds the two equal)."""
    if req.first_line_format == "authority":
        return req.authority
    header = req.host_header
    if not header:
        return req.url
    host, port = authority(header)
    return url.unparse(req.scheme, host, port or url.default_port(req.scheme) or 443,
                       req.path if req.path != "*" else "")


def authority(header: str) -> tuple[str, int | None]:
    """mitmproxy's ``parse_authority(header, check=False)`` (host, port), kept for the last
    few hundred Host headers: every request read it twice (``pretty_host``,
    ``pretty_url``), ~10 us each (a regex, ``is_valid_host``), and a proxy sees few hosts."""
    found = _AUTHORITIES.get(header)
    if found is None:
        if len(_AUTHORITIES) >= 256:
            _AUTHORITIES.clear()
        found = _AUTHORITIES[header] = url.parse_authority(header, check=False)
    return found


_AUTHORITIES: dict[str, tuple[str, int | None]] = {}


def facts_or_kill(flow: http.HTTPFlow) -> RequestFacts | None:
    """The request's facts, or None after killing the flow: without even the facts nothing is
    safe to forward."""
    found = facts_and_names_or_kill(flow)
    return found[0] if found else None


def facts_and_names_or_kill(flow: http.HTTPFlow
                            ) -> tuple[RequestFacts, NameParts, list[str]] | None:
    """``facts_or_kill``, with the destination's names (and their parts) it was built from."""
    try:
        parts = name_parts(flow)
        names = destination_names(flow, parts)
        return facts_from_flow(flow, names), parts, names
    except Exception:
        log.exception("cannot read the request's facts; the flow is killed")
        flow.kill()
        return None


def facts_from_flow(flow: http.HTTPFlow, names: list[str] | None = None) -> RequestFacts:
    req = flow.request
    names = names or destination_names(flow)
    dest_ip = flow.server_conn.address[0] if flow.server_conn.address else None
    return RequestFacts(
        source_ip=flow.client_conn.peername[0] if flow.client_conn.peername else "",
        host=names[0],
        port=req.port,
        scheme=req.scheme,
        method=req.method,
        path=req.path.split("?", 1)[0],
        time=datetime.now(UTC),
        destination_ip=dest_ip,
    )


def raw_request(flow: http.HTTPFlow, parts: NameParts | None = None) -> RawRequest:
    req = flow.request
    return RawRequest(
        method=req.method,
        url=pretty_url(req),
        headers=tuple((k.lower(), v) for k, v in req.headers.items(multi=True)),
        body=req.raw_content or b"",
        hosts=host_names(flow, parts),
    )


def host_names(flow: http.HTTPFlow, parts: NameParts | None = None) -> tuple[str, ...]:
    """Every name the request names its destination by, inspected as text: the SNI, the
    Host header, the CONNECT target or absolute-URL host (also in transparent mode, where
    the connection goes to an IP and the names travel only inside the request)."""
    return tuple(dict.fromkeys(n.lower() for n in parts or name_parts(flow) if n))



