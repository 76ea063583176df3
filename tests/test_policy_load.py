"""Loading policies: the shipped default, defaults for omitted sections, and bad files.

Every bad file must be rejected with ``file:line:column: ...`` pointing at the offending node.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from policies.load import load_policy, summarize
from proxy.errors import PolicyError

DEFAULT = Path(__file__).resolve().parent.parent / "policies" / "default.yaml"

# Three lines; cases below start at line 4.
BASE = "version: 1\nmode: enforce\ndefault_action: allow\n"

RULE = "rules:\n  - name: r\n    description: d\n"  # lines 4-6


def write(tmp_path: Path, text: str | bytes, name: str = "policy.yaml") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def errors_of(path: Path) -> list[str]:
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert str(caught.value) == "\n".join(caught.value.errors)
    return caught.value.errors


def test_default_policy_loads():
    policy = load_policy(DEFAULT)
    assert policy.hash == "sha256:" + hashlib.sha256(DEFAULT.read_bytes()).hexdigest()
    assert policy.path == str(DEFAULT)
    assert policy.mode == "enforce"
    assert [r.name for r in policy.rules] == [
        "block-plain-http",
        "block-ids-and-cards",
        "block-bulk-contacts",
        "allow-internal",
        "mask-contacts-external",
    ]
    assert [r.action for r in policy.rules] == ["block", "block", "block", "allow", "mask"]
    assert policy.rules[0].approvable is False and policy.rules[0].schemes == {"http"}
    assert policy.rules[1].data.entities == {"CN_RESIDENT_ID", "CREDIT_CARD", "CN_PASSPORT"}
    assert policy.rules[2].data.min_records == 5 and policy.rules[2].destinations == {"external"}
    assert policy.default_action == "allow"
    assert not policy.internal and policy.approvals == () and policy.passthrough == ()
    failure = policy.failure
    assert {
        failure.on_error,
        failure.on_timeout,
        failure.on_oversize,
        failure.on_uninspectable,
    } == {"block"}


def test_default_policy_summary():
    text = summarize(load_policy(DEFAULT), now=datetime(2026, 6, 1, tzinfo=UTC))
    assert "mode: enforce" in text
    assert "1. block-plain-http  block  scheme http" in text
    assert "[not approvable]" in text
    assert "internal: none listed (every destination counts as external)" in text
    assert "-. default  allow" in text


def test_omitted_sections_take_documented_defaults(tmp_path):
    policy = load_policy(write(tmp_path, BASE + "rules: []\nfailure:\n  on_timeout: allow\n"))
    assert policy.failure.on_timeout == "allow"
    assert (policy.failure.on_error, policy.failure.on_oversize) == ("block", "block")
    assert policy.failure.on_uninspectable == "block"
    limits = policy.limits
    assert (limits.max_body_bytes, limits.max_decoded_bytes) == (10 * 2**20, 50 * 2**20)
    assert (limits.timeout_seconds, limits.max_depth) == (5.0, 5)
    assert policy.detection.score_threshold == 0.4
    assert policy.detection.allow_values == () and policy.detection.extra_recognizers == ()


@pytest.mark.parametrize(
    "written, expected",
    [
        ("1048576", 1048576),
        ("10MiB", 10 * 2**20),
        ('"1.5 GiB"', int(1.5 * 2**30)),
        ("2MB", 2_000_000),
    ],
)
def test_sizes_accept_bytes_and_units(tmp_path, written, expected):
    text = BASE + f"rules: []\nlimits:\n  max_body_bytes: {written}\n  max_decoded_bytes: 2GiB\n"
    assert load_policy(write(tmp_path, text)).limits.max_body_bytes == expected


def test_hosts_are_normalised_and_datetimes_may_be_quoted(tmp_path):
    text = BASE + (
        "rules: []\npassthrough: [Pinned.Example.COM., '*.Bank.example']\n"
        "destinations:\n  p: {hosts: [api.p.example], agreement: DPA-1}\n"
        "approvals:\n  - {id: A-1, source: any, destination: p, data: [PERSON], purpose: x,\n"
        "     approver: y, agreement: DPA-1, expires: '2026-12-31T23:59:59+08:00'}\n"
    )
    policy = load_policy(write(tmp_path, text))
    assert policy.passthrough == ("pinned.example.com", "*.bank.example")
    assert policy.passes_through("app.bank.example") and not policy.passes_through("bank.example")
    assert policy.approvals[0].expires.utcoffset().total_seconds() == 8 * 3600


BAD = [
    pytest.param(
        BASE + "rules: []\nmodee: monitor\n", "5:1", "unknown key 'modee'", id="unknown-key"
    ),
    pytest.param(
        BASE + RULE + "    action: block\n    sorce: [any]\n",
        "8:5",
        "rules[0].sorce: unknown key 'sorce' (did you mean 'source'?)",
        id="unknown-key-in-rule",
    ),
    pytest.param(
        BASE + "rules: []\ninternal:\n  hosts: corp.example.com\n",
        "6:10",
        "internal.hosts: expected a list, got text 'corp.example.com'",
        id="string-where-list",
    ),
    pytest.param(
        BASE + "rules:\n", "4:7", "rules: expected a list, got nothing (null)", id="empty-value"
    ),
    pytest.param(
        BASE + "rules: []\nlimits:\n  timeout_seconds: '5'\n",
        "6:20",
        "limits.timeout_seconds: expected a number, got text '5'",
        id="quoted-number",
    ),
    pytest.param(
        BASE + RULE + "    action: block\n    approvable: yes\n",
        "8:17",
        "rules[0].approvable: expected true or false, got text 'yes'",
        id="yes-is-not-true",
    ),
    pytest.param(
        "version: true\nmode: enforce\ndefault_action: allow\nrules: []\n",
        "1:10",
        "version: expected a whole number, got boolean true",
        id="version-bool",
    ),
    pytest.param(
        BASE + RULE + "    action: deny\n",
        "7:13",
        "rules[0].action: text 'deny' is not allowed; expected one of 'block', 'mask'",
        id="bad-action",
    ),
    pytest.param(
        BASE + "rules: []\nfailure:\n  on_timeout: ignore\n",
        "6:15",
        "failure.on_timeout: text 'ignore' is not allowed; expected one of 'block', 'allow'",
        id="bad-failure-action",
    ),
    pytest.param(
        BASE + RULE + "    action: block\n    destination: [external, partnr]\n",
        "8:29",
        "unknown destination 'partnr'; expected one of: 'internal', 'external', 'any'",
        id="unknown-destination-group",
    ),
    pytest.param(
        BASE
        + "sources:\n  office: {cidrs: [10.1.0.0/16]}\n"
        + RULE
        + "    action: block\n    source: [ofice]\n",
        "10:14",
        "rules[0].source[0]: unknown source group 'ofice' (did you mean 'office'?)",
        id="unknown-source-group",
    ),
    pytest.param(
        BASE + RULE + "    action: block\n    data: {entities: [PHONE]}\n",
        "8:23",
        "rules[0].data.entities[0]: unknown entity or entity group 'PHONE'",
        id="unknown-entity",
    ),
    pytest.param(
        BASE + "rules: []\nentity_groups:\n  contact: [PHONE_NUMBER, EMAIL]\n",
        "6:27",
        "entity_groups.contact[1]: unknown entity 'EMAIL'",
        id="unknown-entity-in-group",
    ),
    pytest.param(
        BASE + "rules: []\nmode: monitor\n",
        "5:1",
        "duplicate key 'mode' (first at line 2)",
        id="duplicate-key",
    ),
    pytest.param(
        BASE + RULE + "    action: block\n  - name: r\n    description: again\n    action: allow\n",
        "8:11",
        "rules[1].name: duplicate rule name 'r' (first at line 5)",
        id="duplicate-rule-name",
    ),
    pytest.param(
        BASE + "rules:\n  - name: Block_All\n    description: d\n    action: block\n",
        "5:11",
        "'Block_All' is not a valid rule name; expected lowercase letters, digits and '-'",
        id="bad-rule-name",
    ),
    pytest.param(
        BASE + RULE + "    action: mask\n",
        "5:5",
        "rules[0]: a mask rule needs data.entities",
        id="mask-without-entities",
    ),
    pytest.param(
        BASE + "rules: []\ndestinations:\n  p: {hosts: [p.example]}\napprovals:\n"
        "  - id: A-1\n    source: any\n    destination: p\n    data: [PERSON]\n"
        "    purpose: x\n    approver: y\n    agreement: z\n    expires: 2026-12-31T23:59:59\n",
        "15:14",
        "approvals[0].expires: date and time has no timezone; expected e.g. 2026-12-31T23:59:59+08:00",
        id="naive-datetime",
    ),
    pytest.param(
        BASE + "rules: []\ndestinations:\n  p: {hosts: [p.example]}\napprovals:\n"
        "  - id: A-1\n    source: any\n    destination: q\n    data: [PERSON]\n"
        "    purpose: x\n    approver: y\n    agreement: z\n    expires: 2026-12-31T23:59:59Z\n",
        "10:18",
        "approvals[0].destination: unknown destination group 'q'; expected one of: p",
        id="approval-unknown-destination",
    ),
    pytest.param(
        BASE + "rules: []\ninternal:\n  cidrs: [10.0.0.0/8, 10.0.0.1/8]\n",
        "6:23",
        "internal.cidrs[1]: '10.0.0.1/8' is not a network (10.0.0.1/8 has host bits set)",
        id="cidr-host-bits",
    ),
    pytest.param(
        BASE + "rules: []\nsources:\n  lab: {cidrs: [10.0.0.0/33]}\n",
        "6:17",
        "sources.lab.cidrs[0]: '10.0.0.0/33' is not a network",
        id="bad-cidr",
    ),
    pytest.param(
        BASE + "rules: []\ninternal:\n  hosts: ['https://wiki.example.com/']\n",
        "6:11",
        "is not a host name or glob; expected e.g. api.example.com",
        id="url-as-host",
    ),
    pytest.param(
        BASE + "rules: []\nlimits:\n  max_body_bytes: 10 parsecs\n",
        "6:19",
        "limits.max_body_bytes: text '10 parsecs' is not a size",
        id="bad-size",
    ),
    pytest.param(
        BASE + "rules: [\n  {name: r, description: d, action: block}\n",
        "6:1",
        "invalid YAML: while parsing a flow sequence expected ',' or ']'",
        id="yaml-syntax",
    ),
    pytest.param(
        BASE + "rules: []\nentity_groups:\n  a: &x [PERSON]\n  b: *x\n",
        "6:6",
        "anchors (&name) are not supported",
        id="yaml-anchor",
    ),
    pytest.param(
        "version: 1\nmode: enforce\nrules: []\n",
        "1:1",
        "missing required key 'default_action'; expected one of block, allow, monitor",
        id="missing-key",
    ),
    pytest.param(
        BASE + "rules: []\ndestinations:\n  external: {hosts: [x.example]}\n",
        "6:3",
        "destinations.external: group name 'external' is reserved",
        id="reserved-group-name",
    ),
    pytest.param(
        BASE + "rules: []\ndestinations:\n  p: {hosts: [p.example]}\napprovals:\n"
        "  - id: A-1\n    source: any\n    destination: p\n    data: [PERSON]\n"
        "    purpose: x\n    approver: y\n    agreement: z\n"
        "    starts: 2027-01-01T00:00:00Z\n    expires: 2026-12-31T23:59:59Z\n",
        "8:5",
        "approvals[0]: starts is not before expires",
        id="starts-after-expires",
    ),
    pytest.param(
        BASE + "rules: []\nlimits: {max_body_bytes: 100MiB, max_decoded_bytes: 1MiB}\n",
        "5:9",
        "limits: max_decoded_bytes is smaller than max_body_bytes",
        id="decoded-below-body",
    ),
    pytest.param(
        "", "1:1", "file is empty; expected a policy starting with 'version: 1'", id="empty"
    ),
    pytest.param(b"version: 1\nmode: \xff\n", "2:7", "the file is not UTF-8 text", id="not-utf8"),
]


@pytest.mark.parametrize("text, line_column, fragment", BAD)
def test_bad_policy_is_rejected_at_the_offending_node(tmp_path, text, line_column, fragment):
    path = write(tmp_path, text)
    errors = errors_of(path)
    assert len(errors) == 1, errors
    assert errors[0].startswith(f"{path}:{line_column}: "), errors[0]
    assert fragment in errors[0]


def test_all_errors_are_reported_at_once_in_file_order(tmp_path):
    text = (
        "version: 1\nmode: enforce\n"
        "rules:\n"
        "  - name: a\n    description: d\n    action: deny\n"  # 6: bad action
        "  - name: a\n    description: d\n    action: block\n"  # 7: duplicate name
        "    destination: [nowhere]\n"  # 10: unknown group
        "default_action: allow\n"
        "limits: {max_depth: '3'}\n"  # 12: quoted number
    )
    path = write(tmp_path, text)
    errors = errors_of(path)
    assert [e.split(": ")[0] for e in errors] == [
        f"{path}:6:13",
        f"{path}:7:11",
        f"{path}:10:19",
        f"{path}:12:21",
    ]


def test_unreadable_file_is_a_policy_error(tmp_path):
    missing = tmp_path / "nope.yaml"
    errors = errors_of(missing)
    assert errors == [f"{missing}: cannot read policy file: No such file or directory"]


def test_every_known_entity_is_accepted(tmp_path):
    from policies.entities import KNOWN_ENTITIES

    text = (
        BASE + RULE + f"    action: block\n    data: {{entities: [{', '.join(KNOWN_ENTITIES)}]}}\n"
    )
    policy = load_policy(write(tmp_path, text))
    assert policy.rules[0].data.entities == set(KNOWN_ENTITIES)


APPROVAL = (
    "  - {{id: {id}, source: any, destination: p, data: [PERSON], purpose: x, approver: y,\n"
    "     agreement: DPA-1, {when}}}\n"
)


def test_summary_counts_groups_and_approvals(tmp_path):
    text = BASE.replace("mode: enforce", "mode: monitor") + (
        "rules: []\n"
        "destinations:\n  p: {hosts: [p.example, .q.example], cidrs: [203.0.113.0/24],"
        " agreement: DPA-1}\n"
        "sources:\n  hr: {cidrs: [10.20.0.0/16]}\n"
        "approvals:\n"
        + APPROVAL.format(id="A-OLD", when="expires: 2026-01-01T00:00:00Z")
        + APPROVAL.format(id="A-NOW", when="expires: 2027-01-01T00:00:00Z")
        + APPROVAL.format(
            id="A-NEXT", when="starts: 2026-09-01T00:00:00Z, expires: 2027-01-01T00:00:00Z"
        )
    )
    summary = summarize(load_policy(write(tmp_path, text)), now=datetime(2026, 6, 1, tzinfo=UTC))
    assert "mode: monitor  (nothing is blocked or masked, only recorded)" in summary
    assert "destination p: 2 host(s), 1 cidr(s), agreement DPA-1" in summary
    assert "source hr: 1 cidr(s)" in summary
    assert "approvals: 1 active, 1 expired, 1 not yet started" in summary


# -- detection dictionaries, EDM, min_records -----------------------------------------------------


def test_detection_dictionaries_and_edm_load(tmp_path):
    text = BASE + (
        "rules:\n  - name: bulk\n    description: d\n    action: block\n"
        "    data: {entities: [PHONE_NUMBER], min_records: 10}\n"
        "detection:\n"
        "  deny_values: {CN_RESIDENT_ID: ['11010519491231002X'], PHONE_NUMBER: ['13800138000']}\n"
        "  confidential_markers: false\n"
        "  confidential_terms: [天河项目]\n"
        "  edm: {index: edm/customers.edm, key_file: /etc/baomi/keys/edm.key}\n"
    )
    policy = load_policy(write(tmp_path, text))
    d = policy.detection
    assert d.deny_values == (
        ("CN_RESIDENT_ID", ("11010519491231002X",)),
        ("PHONE_NUMBER", ("13800138000",)),
    )
    assert d.confidential_markers is False and d.confidential_terms == ("天河项目",)
    assert d.edm_index == str(tmp_path / "edm" / "customers.edm")  # relative to the policy
    assert d.edm_key_file == "/etc/baomi/keys/edm.key"
    assert policy.rules[0].data.min_records == 10


def test_detection_section_is_the_detector_config(tmp_path):
    from detectors.config import DetectorConfig

    text = BASE + (
        "rules: []\ndetection:\n  deny_values: {PHONE_NUMBER: ['13800138000']}\n"
        "  confidential_terms: [X-Project]\n  edm: {index: /a/i.edm, key_file: /b/k.key}\n"
    )
    config = load_policy(write(tmp_path, text)).detection
    assert type(config) is DetectorConfig  # the same object the workers get, not a copy
    assert config.deny_values == (("PHONE_NUMBER", ("13800138000",)),)
    assert config.confidential_terms == ("X-Project",) and config.confidential_markers is True
    assert (config.edm_index, config.edm_key_file) == ("/a/i.edm", "/b/k.key")


NEW_KEYS_BAD = [
    pytest.param(
        "detection:\n  deny_values: {UK_NHS: ['123']}\n",
        "6:17",
        "unknown entity 'UK_NHS'",
        id="deny-unknown-entity",
    ),
    pytest.param(
        "detection:\n  deny_values: {PHONE_NUMBER: []}\n",
        "6:31",
        "deny_values.PHONE_NUMBER",
        id="deny-empty-list",
    ),
    pytest.param(
        "detection:\n  edm: {index: /var/lib/baomi/c.edm}\n",
        "6:8",
        "key_file",
        id="edm-without-key",
    ),
    pytest.param(
        "detection:\n  edm: {index: /srv/edm/c.edm, key_file: /srv/edm/../edm/k.key}\n",
        "6:42",
        "same directory as the index",
        id="edm-key-beside-index",
    ),
    pytest.param(
        "rules:\n  - name: r\n    description: d\n    action: block\n"
        "    data: {entities: [PHONE_NUMBER], min_records: 0}\n",
        "8:51",
        "min_records",
        id="min-records-zero",
    ),
]


@pytest.mark.parametrize("text, line_column, fragment", NEW_KEYS_BAD)
def test_new_detection_keys_rejected_at_the_node(tmp_path, text, line_column, fragment):
    rules = "" if text.startswith("rules") else "rules: []\n"
    path = write(tmp_path, BASE + rules + text)
    errors = errors_of(path)
    assert len(errors) == 1, errors
    assert errors[0].startswith(f"{path}:{line_column}: "), errors[0]
    assert fragment in errors[0]


def test_detection_nlp_model_is_passed_to_the_detector(tmp_path):

    text = DEFAULT.read_text().replace("detection:\n", "detection:\n  nlp_model: /opt/ner/en_pipeline\n", 1)
    path = tmp_path / "p.yaml"
    path.write_text(text)
    assert load_policy(path).detection.nlp_model == "/opt/ner/en_pipeline"


# -- logging and content -------------------------------------------------------------------------

def test_logging_and_content_default_to_all_and_allow(tmp_path):
    policy = load_policy(write(tmp_path, BASE + "rules: []\n"))
    assert (policy.logging.allowed, policy.logging.allowed_every) == ("all", 1)
    assert policy.content.images == "allow"


@pytest.mark.parametrize("allowed, every", [("all", 1), ("none", 0), ("sample:100", 100),
                                            ("sample:1", 1), ("'sample:7'", 7)])
def test_logging_allowed_choices(tmp_path, allowed, every):
    policy = load_policy(write(tmp_path, BASE + f"rules: []\nlogging:\n  allowed: {allowed}\n"))
    assert policy.logging.allowed == allowed.strip("'")
    assert policy.logging.allowed_every == every


def test_content_images_block(tmp_path):
    policy = load_policy(write(tmp_path, BASE + "rules: []\ncontent: {images: block}\n"))
    assert policy.content.images == "block"


def test_default_policy_spells_out_logging_and_content():
    policy = load_policy(DEFAULT)
    assert (policy.logging.allowed, policy.content.images) == ("all", "allow")
    text = summarize(policy, now=datetime(2026, 6, 1, tzinfo=UTC))
    assert "images (pixels not inspected): allow; decision log keeps clean allows: all" in text


LOGGING_CONTENT_BAD = [
    pytest.param("logging:\n  allowed: some\n", "6:12",
                 "logging.allowed: 'some' is not a logging choice; expected all, none or "
                 "sample:N", id="allowed-unknown-word"),
    pytest.param("logging:\n  allowed: sample:0\n", "6:12", "'sample:0' is not a logging choice",
                 id="sample-zero"),
    pytest.param("logging:\n  allowed: 'sample: 5'\n", "6:12",
                 "'sample: 5' is not a logging choice", id="sample-with-space"),
    pytest.param("logging:\n  allowed: sample:-3\n", "6:12", "'sample:-3' is not a logging choice",
                 id="sample-negative"),
    pytest.param("logging:\n  allowed: 10\n", "6:12",
                 "logging.allowed: expected text, got number 10", id="allowed-number"),
    pytest.param("logging:\n  allowed: [all]\n", "6:12", "logging.allowed: expected text, got a list",
                 id="allowed-list"),
    pytest.param("logging:\n  alowed: none\n", "6:3",
                 "logging.alowed: unknown key 'alowed' (did you mean 'allowed'?)",
                 id="logging-unknown-key"),
    pytest.param("logging: none\n", "5:10", "logging: expected a mapping, got text 'none'",
                 id="logging-not-a-mapping"),
    pytest.param("content:\n  images: ocr\n", "6:11",
                 "content.images: text 'ocr' is not allowed; expected one of 'allow' or 'block'",
                 id="images-unknown-action"),
    pytest.param("content:\n  images: true\n", "6:11",
                 "content.images: boolean true is not allowed", id="images-boolean"),
    pytest.param("content:\n  video: block\n", "6:3",
                 "content.video: unknown key 'video'; expected one of: images",
                 id="content-unknown-key"),
]


@pytest.mark.parametrize("text, line_column, fragment", LOGGING_CONTENT_BAD)
def test_logging_and_content_rejected_at_the_node(tmp_path, text, line_column, fragment):
    path = write(tmp_path, BASE + "rules: []\n" + text)
    errors = errors_of(path)
    assert len(errors) == 1, errors
    assert errors[0].startswith(f"{path}:{line_column}: "), errors[0]
    assert fragment in errors[0], errors[0]
