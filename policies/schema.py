"""The shape of a policy file, as pydantic models (strict: no coercion, no unknown keys).

    PolicyFile.model_validate({"version": 1, "mode": "enforce", "rules": [],
                               "default_action": "allow"})

Only the shape and single values are checked here; references between sections (group names,
entity names, unique rule names) are checked in ``policies.crosscheck`` so that every problem of
a file is reported in one go. Omitted optional sections take the defaults written below, which
REFERENCE.md documents.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ByteSize,
    ConfigDict,
    Field,
    model_validator,
)

MIB = 1024 * 1024
MAX_CACHE_SECONDS = 600.0  # identity caches: revoked access must end within minutes

Action = Literal["block", "mask", "allow", "monitor"]
DefaultAction = Literal["block", "allow", "monitor"]  # no entities to mask without a rule
FailureAction = Literal["block", "allow", "monitor"]
Severity = Literal["low", "medium", "high", "critical"]  # an incident's, as reviewers triage it

_NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_GROUP = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
_APPROVAL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_HOST_GLOB = re.compile(r"[a-z0-9*?.\[\]!_-]+")
_RECOGNIZER = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*")


def _rule_name(value: str) -> str:
    # Rule names become a Prometheus label: a short, fixed vocabulary.
    if not _NAME.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a valid rule name; expected lowercase letters, digits and '-' "
            "(at most 63), e.g. block-identity-documents"
        )
    return value


def _group_name(value: str) -> str:
    if not _GROUP.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a valid group name; expected lowercase letters, digits, '-' "
            "and '_', e.g. payroll-partner"
        )
    return value


def _approval_id(value: str) -> str:
    if not _APPROVAL_ID.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a valid approval id; expected letters, digits, '.', '_' "
            "and '-', e.g. APR-2026-014"
        )
    return value


def _host_glob(value: str) -> str:
    """``Intranet.Example.COM.`` -> ``intranet.example.com``; IDN names -> punycode."""
    host = value.strip().lower().rstrip(".")
    if host and not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            host = value  # fails the pattern check below with the admin's own spelling
    if not host.strip(".*") or not _HOST_GLOB.fullmatch(host):
        raise ValueError(
            f"{value!r} is not a host name or glob; expected e.g. api.example.com, "
            "*.example.com or .example.com (no scheme, port or path)"
        )
    return host


def _cidr(value: str) -> str:
    try:
        return str(ipaddress.ip_network(value.strip(), strict=True))
    except ValueError as e:
        raise ValueError(
            f"{value!r} is not a network ({e}); expected an address or block such as "
            "10.0.0.0/8, 192.0.2.7 or 2001:db8::/32"
        ) from None


def _user_name(value: str) -> str:
    # Compared case-insensitively; whitespace or control characters would be a typo or a trick.
    if not value or len(value) > 256 or any(c.isspace() or not c.isprintable() for c in value):
        raise ValueError(
            f"{value!r} is not a user or group name; expected 1-256 printable characters "
            "without spaces, e.g. alice, alice@corp.example or payroll"
        )
    return value


def _recognizer(value: str) -> str:
    if not _RECOGNIZER.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a recognizer reference; expected 'module:Class', "
            "e.g. mycompany.recognizers:EmployeeIdRecognizer"
        )
    return value


_SAMPLE = re.compile(r"sample:([1-9][0-9]{0,8})")


def _allowed_logging(value: str) -> str:
    if value in ("all", "none") or _SAMPLE.fullmatch(value):
        return value
    raise ValueError(
        f"{value!r} is not a logging choice; expected all, none or sample:N "
        "(N a whole number >= 1, no spaces), e.g. sample:100"
    )


def _version(value: int) -> int:
    if value != 1:
        raise ValueError(f"version {value} is not supported; expected 1")
    return value


def _iso_datetime(value: object) -> object:
    # Quoted dates arrive as text; parse them the same way as unquoted YAML timestamps.
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(
                f"{value!r} is not a date and time; expected e.g. 2026-12-31T23:59:59+08:00"
            ) from None
    return value


RuleName = Annotated[str, AfterValidator(_rule_name)]
UserName = Annotated[str, AfterValidator(_user_name)]
GroupName = Annotated[str, AfterValidator(_group_name)]
HostGlob = Annotated[str, AfterValidator(_host_glob)]
Cidr = Annotated[str, AfterValidator(_cidr)]
Text = Annotated[str, Field(min_length=1)]
Size = Annotated[ByteSize, Field(gt=0)]
Score = Annotated[float, Field(ge=0.0, le=1.0)]
Moment = Annotated[AwareDatetime, BeforeValidator(_iso_datetime)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class FailureFile(_Strict):
    # The only defaults that are actions: an omitted failure key blocks (fail closed).
    on_error: FailureAction = "block"
    on_timeout: FailureAction = "block"
    on_oversize: FailureAction = "block"
    on_uninspectable: FailureAction = "block"


class LimitsFile(_Strict):
    max_body_bytes: Size = ByteSize(10 * MIB)
    max_decoded_bytes: Size = ByteSize(50 * MIB)
    timeout_seconds: Annotated[float, Field(gt=0.0, le=300.0)] = 5.0
    max_depth: Annotated[int, Field(ge=1, le=32)] = 5

    @model_validator(mode="after")
    def _decoded_covers_body(self) -> LimitsFile:
        if self.max_decoded_bytes < self.max_body_bytes:
            raise ValueError(
                "max_decoded_bytes is smaller than max_body_bytes; expected "
                "max_decoded_bytes >= max_body_bytes (decoding never shrinks a body)"
            )
        return self


class EdmFile(_Strict):
    """Exact Data Match: both files are needed; see detectors/EDM.md."""

    index: Text  # written by `baomi edm build`; relative paths start at the policy's directory
    key_file: Text  # 32-byte key from `baomi edm keygen`; 0600, not in the index's directory


class DetectionFile(_Strict):
    score_threshold: Score = 0.4
    allow_values: list[Text] = []
    deny_values: dict[str, Annotated[list[Text], Field(min_length=1)]] = {}
    confidential_markers: bool = True  # the built-in labels (机密, Confidential, ...)
    confidential_terms: list[Text] = []
    edm: EdmFile | None = None
    extra_recognizers: list[Annotated[str, AfterValidator(_recognizer)]] = []
    # Names in running text come from baomi's shipped NER model; nlp_model: an admin-installed
    # spaCy pipeline (package name or directory) used instead; never downloaded. ner: false
    # turns NER off (names from structure and context only). See detectors/NER.md.
    nlp_model: Text | None = None
    ner: bool = True

    @model_validator(mode="after")
    def _model_with_ner(self) -> DetectionFile:
        if self.nlp_model is not None and not self.ner:
            raise ValueError(
                "nlp_model is set but ner is false, so the model would never be loaded; "
                "expected ner: true with nlp_model, or no nlp_model"
            )
        return self


class LoggingFile(_Strict):
    # Clean allows only (allow, nothing found, nothing uninspected); the rest is always written.
    allowed: Annotated[str, AfterValidator(_allowed_logging)] = "all"


class ContentFile(_Strict):
    # Images whose pixels cannot be inspected (their text metadata is inspected either way).
    images: Literal["allow", "block"] = "allow"


class AddressesFile(_Strict):
    hosts: list[HostGlob] = []
    cidrs: list[Cidr] = []


class DestinationFile(AddressesFile):
    agreement: Text | None = None
    description: str = ""


class SourceFile(_Strict):
    """Who a source is: client networks, user names, directory groups (any may match)."""

    cidrs: list[Cidr] = []
    users: list[UserName] = []
    groups: list[UserName] = []  # directory groups (LDAP cn / groups file), not policy groups
    description: str = ""

    @model_validator(mode="after")
    def _someone(self) -> SourceFile:
        if not (self.cidrs or self.users or self.groups):
            raise ValueError(
                "source matches nobody; expected at least one of cidrs, users or groups"
            )
        return self


class DataFile(_Strict):
    entities: Annotated[list[str], Field(min_length=1)]
    min_score: Score = 0.5
    min_count: Annotated[int, Field(ge=1)] = 1
    min_records: Annotated[int, Field(ge=1)] | None = None


class RuleFile(_Strict):
    name: RuleName
    description: Text
    action: Action
    source: Annotated[list[str], Field(min_length=1)] | None = None
    destination: Annotated[list[str], Field(min_length=1)] | None = None
    scheme: Annotated[list[Literal["http", "https"]], Field(min_length=1)] | None = None
    data: DataFile | None = None
    approvable: bool = True
    severity: Severity | None = None  # its incidents' default severity (none: by the action)


class ApprovalFile(_Strict):
    id: Annotated[str, AfterValidator(_approval_id)]
    source: str
    destination: str
    data: Annotated[list[str], Field(min_length=1)]
    purpose: Text
    approver: Text
    agreement: Text
    starts: Moment | None = None
    expires: Moment

    @model_validator(mode="after")
    def _starts_before_expires(self) -> ApprovalFile:
        if self.starts is not None and self.starts >= self.expires:
            raise ValueError("starts is not before expires; expected starts < expires")
        return self


class LdapFile(_Strict):
    """identity.proxyauth.ldap: see policies.model.LdapSettings for what each key does."""

    url: Annotated[str, Field(pattern=r"^ldaps?://[^/\s]+$")]
    starttls: bool = False
    ca_file: Text | None = None
    bind_dn: Text
    bind_password_file: Text  # the service account's password, in a 0600 file
    user_base: Text
    user_filter: Annotated[str, Field(pattern=r"\{user\}")] = "(uid={user})"
    group_attribute: Text | None = "memberOf"
    group_base: Text | None = None
    group_filter: Annotated[str, Field(pattern=r"\{dn\}")] = "(member={dn})"
    group_name_attribute: Text = "cn"
    disabled_filter: Text | None = None
    timeout_seconds: Annotated[float, Field(gt=0.0, le=60.0)] = 5.0
    # How long a user's groups are trusted: a removed member keeps access at most this long.
    cache_seconds: Annotated[float, Field(ge=0.0, le=MAX_CACHE_SECONDS)] = 60.0

    @model_validator(mode="after")
    def _encrypted(self) -> LdapFile:
        if self.url.startswith("ldap://") and not self.starttls:
            raise ValueError(
                "plain ldap:// would send passwords in clear; expected an ldaps:// url or "
                "starttls: true"
            )
        return self


class ProxyAuthFile(_Strict):
    """Proxy-Authorization: Basic, checked against exactly one of htpasswd or ldap."""

    realm: Annotated[str, Field(pattern=r'^[^"\\\x00-\x1f]{1,64}$')] = "baomi"
    htpasswd: Text | None = None
    ldap: LdapFile | None = None
    # true: in explicit-proxy mode a request nobody identified gets 407 (false: "unauthenticated")
    required: bool = True

    @model_validator(mode="after")
    def _one_backend(self) -> ProxyAuthFile:
        if (self.htpasswd is None) == (self.ldap is None):
            raise ValueError("expected exactly one of htpasswd or ldap")
        return self


class HeaderFile(_Strict):
    """A user name set by an upstream proxy that already authenticated the user."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9-]{1,64}$")] = "X-Authenticated-User"
    trusted_cidrs: Annotated[list[Cidr], Field(min_length=1)]

    @model_validator(mode="after")
    def _not_a_protocol_header(self) -> HeaderFile:
        # The header is removed from every request: removing one of these would break HTTP.
        if self.name.lower() in _PROTOCOL_HEADERS:
            raise ValueError(
                f"{self.name!r} is part of HTTP itself and cannot carry the user; expected a "
                "header of its own, e.g. X-Authenticated-User"
            )
        return self


_PROTOCOL_HEADERS = frozenset({
    "host", "content-length", "content-type", "content-encoding", "transfer-encoding",
    "connection", "upgrade", "te", "trailer", "expect", "authorization", "proxy-authorization",
    "cookie", "accept", "user-agent",
})


class IpMapFile(_Strict):
    """``address user`` lines (DHCP leases, AD logons); a line older than max_age expires."""

    file: Text
    max_age_seconds: Annotated[float, Field(gt=0.0, le=30 * 86400.0)] = 8 * 3600.0


class GroupsFile(_Strict):
    """Where a user's directory groups come from (both: the union)."""

    file: Text | None = None  # YAML: groups: {payroll: [alice, bob]}
    ldap: bool = False  # look groups up in identity.proxyauth.ldap


IdentityMethod = Literal["proxyauth", "header", "ipmap"]


class IdentityFile(_Strict):
    methods: Annotated[list[IdentityMethod], Field(min_length=1)]
    proxyauth: ProxyAuthFile | None = None
    header: HeaderFile | None = None
    ipmap: IpMapFile | None = None
    groups: GroupsFile = GroupsFile()

    @model_validator(mode="after")
    def _configured(self) -> IdentityFile:
        missing = [m for m in self.methods if getattr(self, m) is None]
        if missing:
            raise ValueError(
                f"method {missing[0]} is listed but not configured; expected an "
                f"identity.{missing[0]} section"
            )
        if len(set(self.methods)) != len(self.methods):
            raise ValueError("a method is listed twice; expected each method once")
        if self.groups.ldap and (self.proxyauth is None or self.proxyauth.ldap is None):
            raise ValueError("groups.ldap needs identity.proxyauth.ldap; expected it configured")
        return self


class PolicyFile(_Strict):
    version: Annotated[int, AfterValidator(_version)]  # Literal[1] would accept `true`
    mode: Literal["enforce", "monitor"]
    failure: FailureFile = FailureFile()
    limits: LimitsFile = LimitsFile()
    detection: DetectionFile = DetectionFile()
    content: ContentFile = ContentFile()
    logging: LoggingFile = LoggingFile()
    internal: AddressesFile = AddressesFile()
    destinations: dict[GroupName, DestinationFile] = {}
    sources: dict[GroupName, SourceFile] = {}
    entity_groups: dict[GroupName, Annotated[list[str], Field(min_length=1)]] = {}
    rules: list[RuleFile]
    default_action: DefaultAction
    approvals: list[ApprovalFile] = []
    passthrough: list[HostGlob] = []
    identity: IdentityFile | None = None  # None: every request is "unauthenticated"
