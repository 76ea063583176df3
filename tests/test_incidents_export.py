"""Exports validate: ECS and OCSF 2006 against JSON schemas, syslog against RFC 5424 syntax."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
from incidents_cli import RAW_ID, RAW_PHONE, keyed_dir, record, run

from proxy.record.incidents import IncidentStore
from proxy.record.incidents.export import to_syslog

SCHEMAS = Path(__file__).parent / "schemas"

# RFC 5424 section 6 ABNF, as a regular expression (MSG may be any octets).
_TIMESTAMP = r"(-|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2}))"
_NAME = r"[!#-Z^-~]{1,32}"  # SD-NAME: PRINTUSASCII except '=', SP, ']', '"'
_PARAM = rf'{_NAME}="(?:[^"\\\]]|\\["\\\]])*"'
_ELEMENT = rf"\[{_NAME}( {_PARAM})*\]"
SYSLOG = re.compile(
    rf"^<(?P<pri>\d{{1,3}})>1 {_TIMESTAMP} [!-~]{{1,255}} [!-~]{{1,48}} [!-~]{{1,128}} "
    rf"[!-~]{{1,32}} (?P<sd>-|({_ELEMENT})+)( (?P<msg>.*))?$"
)

CASES = [
    {},
    {"action": "mask", "rule": "mask-contacts-external"},
    {"action": "monitor", "would_be": "block", "enforced": False, "user": None},
    {
        "action": "allow",
        "uninspected": "passthrough",
        "entity_counts": {},
        "masked": [],
        "source": "not-an-ip",
    },
    {"path": '/a"b]c\\d/名单', "rule": 'odd"rule]'},  # characters syslog must escape
]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    data_dir, _ = keyed_dir(tmp_path_factory.mktemp("export"))
    store = IncidentStore(data_dir)
    for changes in CASES:
        store.write(record(**changes))
    store.close()
    run(
        "incidents",
        "triage",
        _first_id(data_dir),
        "--status",
        "false_positive",
        "--data-dir",
        str(data_dir),
    )
    return data_dir


def _first_id(data_dir: Path) -> str:
    return json.loads(
        run("incidents", "list", "--json", "--data-dir", str(data_dir)).out.splitlines()[0]
    )["id"]


def export(data_dir: Path, fmt: str, *extra: str) -> list[str]:
    result = run("incidents", "export", "--format", fmt, "--data-dir", str(data_dir), *extra)
    assert result.code == 0, result.err
    return result.out.splitlines()


@pytest.mark.parametrize(
    "fmt, schema",
    [
        ("ecs", "ecs-incident.schema.json"),
        ("ocsf", "ocsf-2006-data-security-finding.schema.json"),
    ],
)
def test_json_exports_validate_against_their_schema(data_dir, fmt, schema):
    validator = jsonschema.Draft202012Validator(json.loads((SCHEMAS / schema).read_text()))
    validator.check_schema(validator.schema)
    lines = export(data_dir, fmt)
    assert len(lines) == len(CASES)
    for line in lines:
        doc = json.loads(line)
        errors = [e.message for e in validator.iter_errors(doc)]
        assert not errors, (errors, doc)


def test_the_schemas_reject_what_they_should(data_dir):
    """A schema that accepts anything proves nothing."""
    ocsf = json.loads(export(data_dir, "ocsf")[0])
    schema = json.loads((SCHEMAS / "ocsf-2006-data-security-finding.schema.json").read_text())
    for broken in (
        {**ocsf, "class_uid": 2004},
        {**ocsf, "type_uid": 200602},
        {k: v for k, v in ocsf.items() if k != "finding_info"},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, schema)
    ecs = json.loads(export(data_dir, "ecs")[0])
    schema = json.loads((SCHEMAS / "ecs-incident.schema.json").read_text())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**ecs, "event": {**ecs["event"], "type": ["blocked"]}}, schema)


def test_ocsf_maps_actions_and_status(data_dir):
    docs = [json.loads(line) for line in export(data_dir, "ocsf")]
    assert [(d["action_id"], d["severity_id"]) for d in docs] == [
        (2, 4),
        (4, 3),
        (3, 4),
        (1, 3),
        (2, 4),
    ]
    assert docs[0]["status_id"] == 3 and docs[1]["status_id"] == 1  # false_positive -> Suppressed
    assert "src_endpoint" not in docs[3]  # "not-an-ip" is no IP address


def test_syslog_lines_are_rfc5424(data_dir):
    lines = export(data_dir, "syslog")
    assert len(lines) == len(CASES)
    for line in lines:
        m = SYSLOG.match(line)
        assert m, line
        assert 0 <= int(m["pri"]) <= 191
    assert int(SYSLOG.match(lines[0])["pri"]) == 13 * 8 + 4  # log audit, warning (block)
    assert int(SYSLOG.match(lines[1])["pri"]) == 13 * 8 + 5  # notice (mask)
    assert 'path="/a\\"b\\]c\\\\d/名单"' in lines[4]


@pytest.mark.parametrize("bad", ["", "host name with spaces", "\x00\x01"])
def test_syslog_hostname_is_always_a_valid_token(bad):
    line = to_syslog({"meta": record().public() | {"incident": "x"}, "status": "new"}, hostname=bad)
    assert SYSLOG.match(line), line


def test_exports_hold_metadata_only_and_honour_since(data_dir):
    for fmt in ("ecs", "ocsf", "syslog"):
        text = "\n".join(export(data_dir, fmt))
        assert RAW_ID not in text and RAW_PHONE not in text
        if fmt != "syslog":
            assert "138********" in text  # masked snippets are metadata
    assert export(data_dir, "ecs", "--since", "2024-05-02") == []
    assert len(export(data_dir, "ecs", "--since", "2024-05-01T07:00:00Z")) == len(CASES)
