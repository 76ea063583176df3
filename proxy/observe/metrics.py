"""Prometheus metrics read from each request's DecisionRecord.

    m = Metrics(mode="regular")
    m.set_ready("policy", True)
    m.policy_reload("success", "sha256:ab12...", rules=("block-http", "mask-contact"))
    m.observe(record)                 # once per request, after the record is written
    m.detection_error("detect")       # where a stage failed
    generate_latest(m.registry)       # what /metrics serves (see proxy/observe/health.py)

Every label value comes from a small fixed set so that no value we protect (host, URL,
user, matched data) can become a label, and the series count stays bounded. A value
outside its set is counted under ``other`` rather than raising: metrics run on the hot
path and must never turn a request into an error. Rule names come from the policy
(``[a-z0-9-]+``, validated there); at most ``MAX_RULES`` distinct ones are kept.

Series that alerts and dashboards read are created at 0 up front, so ``rate()`` and
``absent()`` work before the first event.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import re
import threading
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from policies.entities import KNOWN_ENTITIES
from proxy.record.decisions import DecisionRecord

ACTIONS = ("block", "mask", "allow", "monitor")
RULE_ACTIONS = ("block", "mask", "monitor")  # monitor: would have blocked or masked
MODES = (
    "regular", "transparent", "upstream", "reverse", "socks5",
    "wireguard", "local", "tun", "dns",
)  # fmt: skip
ENTITIES = KNOWN_ENTITIES  # admins' extra recognizers may add more: counted as "other"
UNINSPECTED_REASONS = ("oversize", "undecodable", "passthrough", "error", "timeout")
# proxy.errors.Uninspectable.kind says "uninspectable"; the record field says "undecodable".
REASON_ALIASES = {"uninspectable": "undecodable"}
STAGES = ("extract", "detect", "decide", "act", "record")
# What became of a request after baomi decided it (proxy.hook.addon.outcome_of)
OUTCOMES = ("upstream_connect", "upstream_tls", "response_cut", "client_aborted", "other")
# Requests mitmproxy's parser refused (proxy.hook.addon.protocol_refusal)
PROTOCOL_REFUSALS = (
    "chunked trailers", "both Content-Length and Transfer-Encoding", "bad Transfer-Encoding",
    "bad Content-Length", "bad chunked framing", "malformed request", "request body timeout",
    "request trailers",  # HTTP/2 request trailer fields (HTTP/1's are "chunked trailers")
)
RELOAD_RESULTS = ("success", "failure")
# How the sender was known (proxy.identity.METHODS); never the user or group itself.
IDENTITY_METHODS = ("proxyauth", "ldap", "header", "ipmap", "none")
# Requests whose claimed identity was not accepted: 407 (no or wrong credentials), a user
# header from a client not trusted to set it (ignored), the backend could not answer (on_error).
IDENTITY_REJECTIONS = ("missing_credentials", "invalid_credentials", "untrusted_header",
                       "unavailable")
COMPONENTS = ("policy", "detector", "incident_log")
CONNECTION_REFUSALS = ("limit",)  # proxy.hook.connections
CONNECTION_TIMEOUTS = ("head", "idle", "body")
# The supervisor of `baomi run --processes N` (N > 1) adds: every proxy process is up.
SUPERVISOR_COMPONENTS = (*COMPONENTS, "processes")
OTHER = "other"
# A proxy process under `baomi run --processes N`: values live in the multiprocess directory.
MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
MAX_RULES = 200
RULE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")

# 1 ms .. 10 s: clean requests take a few ms; the policy's default detection timeout is 5 s.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Records that never reached the detector: their ~0 s would hide real inspection latency.
NOT_TIMED = frozenset({"passthrough", "oversize"})


def bounded(value: str | None, allowed: Iterable[str]) -> str:
    """``value`` if it is in ``allowed``, else ``other``.

    >>> bounded("block", ACTIONS), bounded("example.com", ACTIONS)
    ('block', 'other')
    """
    return value if value is not None and value in allowed else OTHER


def mode_kind(mode: str) -> str:
    """The kind of a mitmproxy mode spec; never the URL or address inside it.

    >>> mode_kind("upstream:http://user:pw@10.0.0.1:3128"), mode_kind("regular@8081")
    ('upstream', 'regular')
    """
    kind = re.split(r"[:@]", mode or "", maxsplit=1)[0].strip().lower()
    return bounded(kind, MODES)


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:  # running from a source tree
        return "unknown"


class Metrics:
    """Owns a private registry; one instance per proxy process (and one in the supervisor).

    Under ``--processes N`` each proxy process writes its values to prometheus-client's
    multiprocess directory (proxy/observe/box.py adds them up for the one scrape); the
    gauges say there how to combine processes (``multiprocess_mode``: readiness is the
    minimum over the live processes). With one process the mode is ignored.
    """

    def __init__(self, mode: str = "regular", components: Iterable[str] = COMPONENTS):
        self.mode = mode_kind(mode)
        self.registry = CollectorRegistry(auto_describe=True)
        self._components = tuple(components)
        self._ready = dict.fromkeys(self._components, False)
        self._rules: set[str] = set()
        self._children: dict[tuple, object] = {}  # (metric, labels) -> child: _child
        self._modes: dict[str, str] = {}  # record.mode -> its kind
        self._lock = threading.Lock()
        # Human-readable state for /readyz that is not a failure (e.g. a rejected reload).
        self.notes: dict[str, str] = {}
        self._define()
        self._preinitialise()

    def _define(self) -> None:
        r = self.registry
        self.requests = Counter(
            "baomi_requests", "Requests decided, by action and proxy mode.",
            ["action", "mode"], registry=r,
        )  # fmt: skip
        self.detections = Counter(
            "baomi_detections", "Personal-data findings, by entity type.", ["entity"], registry=r
        )
        self.rule_actions = Counter(
            "baomi_rule_actions",
            "Requests blocked or masked, by deciding policy rule (monitor: would have).",
            ["rule", "action"], registry=r,
        )  # fmt: skip
        self.inspection_duration = Histogram(
            "baomi_inspection_duration_seconds",
            "Time spent inspecting one request (extract, detect, decide).",
            buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.inspected_bytes = Counter(
            "baomi_inspected_bytes", "Bytes of request content inspected.", registry=r
        )
        self.uninspected = Counter(
            "baomi_uninspected",
            "Requests that could not be inspected, by reason and the action applied to them.",
            ["reason", "action"], registry=r,
        )  # fmt: skip
        self.errors = Counter(
            "baomi_errors", "Inspection errors, by pipeline stage.", ["stage"], registry=r
        )
        self.outcomes = Counter(
            "baomi_exchange_failures",
            "Requests decided (allowed or masked) whose exchange then failed, by what failed.",
            ["outcome"], registry=r,
        )  # fmt: skip
        self.uninspected_images = Counter(
            "baomi_uninspected_images",
            "Uploaded images whose pixels could not be inspected, by the action on their request.",
            ["action"], registry=r,
        )  # fmt: skip
        self.ner_skipped_bytes = Counter(
            "baomi_ner_skipped_bytes",
            "Bytes of prose the NER model did not read (over its per-request budget); the "
            "rules still read them.", registry=r,
        )  # fmt: skip
        self.protocol_refusals = Counter(
            "baomi_protocol_refusals",
            "Malformed requests refused before inspection (smuggling, bad framing), by reason.",
            ["reason"], registry=r,
        )  # fmt: skip
        self.incident_log_failures = Counter(
            "baomi_incident_log_failures", "Failed writes to the incident log.", registry=r
        )
        # Client connections (proxy/hook/connections.py): refused over the cap, closed by a
        # deadline, and open now (summed over processes).
        self.connections_refused = Counter(
            "baomi_connections_refused", "Client connections refused at once, by reason.",
            ["reason"], registry=r,
        )  # fmt: skip
        self.connections_timed_out = Counter(
            "baomi_connections_timed_out",
            "Client connections closed by baomi's deadlines: head (no whole request head in "
            "time), idle (keep-alive with nothing in flight) or body (a request body not "
            "arrived in time: 408; on HTTP/2 only its stream is reset).", ["timeout"], registry=r,
        )  # fmt: skip
        self.connections_open_gauge = Gauge(
            "baomi_connections_open", "Client connections open now.", registry=r,
            multiprocess_mode="livesum",
        )  # fmt: skip
        self.identified = Counter(
            "baomi_identified_requests",
            "Requests by how their sender was identified (none: unknown user).",
            ["method"], registry=r,
        )  # fmt: skip
        self.identity_rejections = Counter(
            "baomi_identity_rejections",
            "Claimed identities not accepted (407, untrusted user header, backend down), by reason.",
            ["reason"], registry=r,
        )  # fmt: skip
        self.policy_reloads = Counter(
            "baomi_policy_reloads", "Policy loads and reloads, by result.", ["result"], registry=r
        )
        self.process_restarts = Counter(
            "baomi_process_restarts",
            "Proxy processes that died and were restarted by the supervisor (--processes > 1).",
            registry=r,
        )
        # A labelled gauge rather than Info: Info exports an unlabelled sample before the
        # first load, and we want exactly one series, for the policy in force.
        self.policy_info = Gauge(
            "baomi_policy_info",
            "The policy in force (value 1), by file hash.",
            ["hash"],
            registry=r, multiprocess_mode="livemax",
        )
        self.policy_last_success = Gauge(
            "baomi_policy_last_reload_success_timestamp_seconds",
            "Unix time of the last successful policy load.", registry=r,
            multiprocess_mode="livemin",
        )  # fmt: skip
        self.policy_last_successful = Gauge(
            "baomi_policy_last_reload_successful",
            "1 if the last policy load or reload succeeded, else 0 (last good policy kept).",
            registry=r, multiprocess_mode="livemin",
        )
        self.build_info = Gauge(
            "baomi_build_info", "Build information (value 1).",
            ["version", "python", "mitmproxy"], registry=r, multiprocess_mode="livemax",
        )  # fmt: skip
        self.ready_gauge = Gauge(
            "baomi_ready",
            "1 when a component is ready to serve, else 0.",
            ["component"],
            registry=r, multiprocess_mode="livemin",  # ready only if every process is
        )

    def _preinitialise(self) -> None:
        for action in ACTIONS:
            self.requests.labels(action, self.mode)
        for entity in ENTITIES:
            self.detections.labels(entity)
        for reason in UNINSPECTED_REASONS:
            for action in ACTIONS:
                self.uninspected.labels(reason, action)
        for stage in STAGES:
            self.errors.labels(stage)
        for outcome in OUTCOMES:
            self.outcomes.labels(outcome)
        for reason in PROTOCOL_REFUSALS:
            self.protocol_refusals.labels(reason)
        for action in ACTIONS:
            self.uninspected_images.labels(action)
        for result in RELOAD_RESULTS:
            self.policy_reloads.labels(result)
        for method in IDENTITY_METHODS:
            self.identified.labels(method)
        for reason in IDENTITY_REJECTIONS:
            self.identity_rejections.labels(reason)
        for reason in CONNECTION_REFUSALS:
            self.connections_refused.labels(reason)
        for which in CONNECTION_TIMEOUTS:
            self.connections_timed_out.labels(which)
        for component in self._components:
            self.ready_gauge.labels(component).set(0)
        self.build_info.labels(
            _version("baomi"), platform.python_version(), _version("mitmproxy")
        ).set(1)

    def observe(self, record: DecisionRecord) -> None:
        """Count one request. Errors are counted by ``detection_error``, not from the record."""
        action = bounded(record.action, ACTIONS)
        mode = self._modes.get(record.mode) or self._mode_of(record.mode)
        self._child(self.requests, action, mode).inc()
        for entity, count in record.entity_counts.items():
            if count > 0:
                self._child(self.detections, bounded(entity, ENTITIES)).inc(count)
        rule_action = self._rule_action(record)
        if rule_action:
            self._child(self.rule_actions, self._rule_label(record.rule), rule_action).inc()
        if record.uninspected:
            reason = REASON_ALIASES.get(record.uninspected, record.uninspected)
            self.uninspected.labels(bounded(reason, UNINSPECTED_REASONS), action).inc()
        if record.uninspected not in NOT_TIMED:
            self.inspection_duration.observe(max(record.inspect_seconds, 0.0))
        if record.bytes_inspected > 0:
            self.inspected_bytes.inc(record.bytes_inspected)

    def _child(self, metric, *labels: str):
        """``metric.labels(*labels)``, looked up once per label set: ``labels`` takes a lock
        and validates its arguments on every call, several times per request. Label values
        come from the fixed sets above, so this holds a bounded number of children.
        """
        key = (metric, labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def _mode_of(self, mode: str) -> str:
        kind = mode_kind(mode) if mode else self.mode
        if len(self._modes) < len(MODES) * 4:  # a few spellings per kind at most
            self._modes[mode] = kind
        return kind

    @staticmethod
    def _rule_action(record: DecisionRecord) -> str | None:
        if record.action in ("block", "mask"):
            return record.action
        if record.action == "monitor" and record.would_be in ("block", "mask"):
            return "monitor"
        return None

    def _rule_label(self, rule: str) -> str:
        if rule in self._rules:  # known already (a set only grows): no lock, no regex
            return rule
        if not RULE_NAME.fullmatch(rule or ""):
            return OTHER
        with self._lock:
            if rule in self._rules:
                return rule
            if len(self._rules) >= MAX_RULES:
                return OTHER
            self._rules.add(rule)
            return rule

    def images(self, count: int, decision) -> None:
        """Count images whose pixels went uninspected (policy ``content.images``)."""
        if count > 0:
            self.uninspected_images.labels(bounded(decision.action, ACTIONS)).inc(count)

    def ner_skipped(self, size: int) -> None:
        """Count prose the NER model left to the rules (``Inspection.ner_skipped_bytes``)."""
        if size > 0:
            self.ner_skipped_bytes.inc(size)

    def protocol_refused(self, reason: str) -> None:
        self.protocol_refusals.labels(bounded(reason, PROTOCOL_REFUSALS)).inc()

    def identity(self, method: str) -> None:
        """One request identified by ``method`` (proxyauth|ldap|header|ipmap|none)."""
        self._child(self.identified, bounded(method, IDENTITY_METHODS)).inc()

    def identity_rejected(self, reason: str) -> None:
        self.identity_rejections.labels(bounded(reason, IDENTITY_REJECTIONS)).inc()

    def exchange_failed(self, outcome: str) -> None:
        self.outcomes.labels(bounded(outcome, OUTCOMES)).inc()

    def detection_error(self, stage: str) -> None:
        """Count an error in ``stage`` (extract|detect|decide|act|record)."""
        self.errors.labels(bounded(stage, STAGES)).inc()

    def incident_log_failure(self) -> None:
        self.incident_log_failures.inc()

    def connection_refused(self, reason: str) -> None:
        self.connections_refused.labels(bounded(reason, CONNECTION_REFUSALS)).inc()

    def connection_timed_out(self, which: str) -> None:
        self.connections_timed_out.labels(bounded(which, CONNECTION_TIMEOUTS)).inc()

    def connections_open(self, count: int) -> None:
        self.connections_open_gauge.set(count)

    def process_restarted(self) -> None:
        self.process_restarts.inc()

    def policy_reload(
        self, result: str, policy_hash: str | None, rules: Iterable[str] = ()
    ) -> None:
        """Count a load; on success export the new hash, time, and its rules at 0.

        >>> m = Metrics(); m.policy_reload("success", "sha256:ab12", rules=["block-http"])
        """
        self.policy_reloads.labels(bounded(result, RELOAD_RESULTS)).inc()
        if result != "success":
            self.policy_last_successful.set(0)
            return
        self.policy_last_successful.set(1)
        self.policy_last_success.set_to_current_time()
        if MULTIPROCESS:  # clear() is not implemented there; the supervisor exports the hash
            for labels in list(self.policy_info._metrics):
                self.policy_info.labels(*labels).set(0)
        else:
            self.policy_info.clear()
        self.policy_info.labels(policy_hash or "unknown").set(1)
        for rule in rules:
            label = self._rule_label(rule)
            for action in RULE_ACTIONS:
                self.rule_actions.labels(label, action)

    def set_ready(self, component: str, ok: bool) -> None:
        if component not in self._ready:
            raise ValueError(f"unknown component {component!r}; expected one of {self._components}")
        with self._lock:  # the gauge too: two threads' calls must not leave it unlike _ready
            if self._ready[component] == ok:
                return  # unchanged: the gauge says so already (set at 0 up front, _define)
            self._ready[component] = ok
            self.ready_gauge.labels(component).set(1 if ok else 0)

    def ready(self) -> dict[str, bool]:
        with self._lock:
            return dict(self._ready)
