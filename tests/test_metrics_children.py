"""Metrics keep their labelled children (``Metrics._child``) and skip unchanged readiness:
the counts must still land on exactly the series a plain ``labels()`` call would pick."""

from __future__ import annotations

from dataclasses import replace

from incidents_cli import record

from proxy.observe.metrics import Metrics


def value(m: Metrics, name: str, **labels: str) -> float | None:
    return m.registry.get_sample_value(name, labels)


def test_each_label_set_counts_apart():
    m = Metrics(mode="regular")
    masked = record(action="mask", rule="mask-phones", mode="reverse:https://10.0.0.1:8443",
                    entity_counts={"PHONE_NUMBER": 2})
    blocked = replace(masked, action="block", rule="block-ids", mode="",
                      entity_counts={"CN_RESIDENT_ID": 1})
    for r in (masked, masked, blocked):
        m.observe(r)
    assert value(m, "baomi_requests_total", action="mask", mode="reverse") == 2
    assert value(m, "baomi_requests_total", action="block", mode="regular") == 1
    assert value(m, "baomi_detections_total", entity="PHONE_NUMBER") == 4
    assert value(m, "baomi_detections_total", entity="CN_RESIDENT_ID") == 1
    assert value(m, "baomi_rule_actions_total", rule="mask-phones", action="mask") == 2
    assert value(m, "baomi_rule_actions_total", rule="block-ids", action="block") == 1


def test_readiness_follows_every_change_and_only_changes():
    m = Metrics(mode="regular")
    assert value(m, "baomi_ready", component="incident_log") == 0
    for ok, shown in ((True, 1), (True, 1), (False, 0), (False, 0), (True, 1)):
        m.set_ready("incident_log", ok)
        assert value(m, "baomi_ready", component="incident_log") == shown
        assert m.ready()["incident_log"] is ok
