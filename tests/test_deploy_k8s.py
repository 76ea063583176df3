"""deploy/k8s: manifests validated offline.

Core kinds against the Kubernetes OpenAPI schemas shipped in ``kubernetes-validate`` (strict:
unknown fields are errors); the prometheus-operator kinds against JSON schemas written down from
their CRDs (tests/schemas/monitoring.coreos.com_v1_*.json). The ConfigMap's policy and the
PrometheusRule's groups are copies of policies/default.yaml and deploy/prometheus/rules; when
those change, regenerate the copies with

    .venv/bin/python tests/test_deploy_k8s.py sync
"""

import json
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
K8S = REPO / "deploy" / "k8s"
SCHEMAS = Path(__file__).with_name("schemas")
POLICY = REPO / "policies" / "default.yaml"
ALERTS = REPO / "deploy" / "prometheus" / "rules" / "baomi-alerts.yml"
KUBERNETES_VERSION = "1.30"  # oldest release still commonly run that has every kind used here
CRD_KINDS = {"ServiceMonitor", "PrometheusRule"}
TOOLING_KINDS = {"Kustomization"}


def documents() -> list[tuple[str, dict]]:
    found = []
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc is not None:
                found.append((path.name, doc))
    return found


def by_kind(kind: str) -> dict:
    [doc] = [doc for _, doc in documents() if doc["kind"] == kind]
    return doc


def ids(docs):
    return [f"{name}:{doc['kind']}/{doc['metadata']['name']}" for name, doc in docs]


CORE = [(n, d) for n, d in documents() if d["kind"] not in CRD_KINDS | TOOLING_KINDS]
CRDS = [(n, d) for n, d in documents() if d["kind"] in CRD_KINDS]


@pytest.mark.parametrize("name,doc", CORE, ids=ids(CORE))
def test_core_manifest_matches_kubernetes_schema(name, doc):
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_every_expected_kind_is_there():
    kinds = {doc["kind"] for _, doc in documents()}
    assert kinds >= {
        "Deployment",
        "Service",
        "ConfigMap",
        "Secret",
        "ServiceMonitor",
        "PrometheusRule",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "NetworkPolicy",
    }


def crd_validator(kind: str):
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((SCHEMAS / f"monitoring.coreos.com_v1_{kind.lower()}.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("name,doc", CRDS, ids=ids(CRDS))
def test_monitoring_manifest_matches_crd_schema(name, doc):
    errors = [e.message for e in crd_validator(doc["kind"]).iter_errors(doc)]
    assert errors == []


@pytest.mark.parametrize(
    "kind,path,value",
    [
        ("ServiceMonitor", ["spec", "endpoints", 0, "intervall"], "15s"),  # misspelt
        ("ServiceMonitor", ["spec", "endpoints", 0, "interval"], "15 seconds"),
        ("ServiceMonitor", ["spec", "endpoints", 0, "scheme"], "ftp"),
        ("ServiceMonitor", ["spec", "selector"], None),  # required
        ("PrometheusRule", ["spec", "groups", 0, "rules", 0, "for"], "2 minutes"),
        ("PrometheusRule", ["spec", "groups", 0, "rules", 0, "record"], "both_alert_and_record"),
        ("PrometheusRule", ["spec", "groups", 0, "rules", 0, "expr"], None),  # required
        ("PrometheusRule", ["spec", "groups", 0, "name"], ""),
    ],
)
def test_crd_schemas_catch_mistakes(kind, path, value):
    doc = json.loads(json.dumps(by_kind(kind)))
    *parents, last = path
    target = doc
    for key in parents:
        target = target[key]
    if value is None:
        del target[last]
    else:
        target[last] = value
    assert list(crd_validator(kind).iter_errors(doc)) != []


def test_core_validation_catches_mistakes():
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    doc = json.loads(json.dumps(by_kind("Deployment")))
    doc["spec"]["template"]["spec"]["containers"][0]["securityContext"]["readOnlyRootFs"] = True
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_kustomization_lists_every_manifest():
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    assert listed == {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}


# --- what the Deployment promises -----------------------------------------------------------


def pod_spec() -> dict:
    return by_kind("Deployment")["spec"]["template"]["spec"]


def test_pod_is_locked_down():
    spec = pod_spec()
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert spec["automountServiceAccountToken"] is False
    for container in spec["containers"] + spec["initContainers"]:
        context = container["securityContext"]
        assert context["readOnlyRootFilesystem"] is True
        assert context["allowPrivilegeEscalation"] is False
        assert context["capabilities"]["drop"] == ["ALL"]
        assert {"cpu", "memory"} <= container["resources"]["limits"].keys()
        assert {"cpu", "memory"} <= container["resources"]["requests"].keys()


def test_probes_use_the_metrics_port_and_args_follow_the_cli():
    [container] = pod_spec()["containers"]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert ports == {"proxy": 8080, "metrics": 9464}
    args = dict(arg.removeprefix("--").split("=", 1) for arg in container["args"][1:])
    assert container["args"][0] == "run"
    assert args["metrics-port"] == "9464" and args["listen-port"] == "8080"
    assert args["policy"] == "/etc/baomi/policy.yaml" and args["data-dir"] == "/var/lib/baomi"
    cpu_limit = container["resources"]["limits"]["cpu"]  # processes and workers fit the limit
    assert args["processes"] == args["workers"] == cpu_limit == "2"


def test_volumes_policy_from_configmap_secrets_and_emptydir():
    volumes = {volume["name"]: volume for volume in pod_spec()["volumes"]}
    assert volumes["policy"]["configMap"]["name"] == by_kind("ConfigMap")["metadata"]["name"]
    secrets = {doc["metadata"]["name"] for _, doc in documents() if doc["kind"] == "Secret"}
    assert {
        volumes["ca"]["secret"]["secretName"],
        volumes["keys"]["secret"]["secretName"],
    } == secrets
    assert "emptyDir" in volumes["data"] and "emptyDir" in volumes["tmp"]
    [container] = pod_spec()["containers"]
    mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
    assert mounts == {"/var/lib/baomi": "data", "/etc/baomi": "policy", "/tmp": "tmp"}


def test_secrets_hold_placeholders_only():
    for _, doc in documents():
        if doc["kind"] == "Secret":
            assert "data" not in doc  # base64 would hide what is in there
            for value in doc["stringData"].values():
                assert value.startswith("REPLACE ME") and "PRIVATE KEY" not in value


def test_selectors_agree():
    labels = by_kind("Deployment")["spec"]["template"]["metadata"]["labels"]
    for kind in ("Service", "PodDisruptionBudget", "NetworkPolicy", "ServiceMonitor"):
        doc = by_kind(kind)["spec"]
        selector = doc.get("selector", doc.get("podSelector"))
        selector = selector.get("matchLabels", selector)
        assert selector.items() <= labels.items(), kind
    service_ports = {port["name"] for port in by_kind("Service")["spec"]["ports"]}
    assert by_kind("ServiceMonitor")["spec"]["endpoints"][0]["port"] in service_ports
    target = by_kind("HorizontalPodAutoscaler")["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", "baomi")


# --- copies kept in step --------------------------------------------------------------------


def test_configmap_policy_is_the_default_policy():
    shipped = yaml.safe_load(by_kind("ConfigMap")["data"]["policy.yaml"])
    assert shipped == yaml.safe_load(POLICY.read_text()), "run: tests/test_deploy_k8s.py sync"


def test_configmap_policy_loads(tmp_path):
    load = pytest.importorskip("policies.load")
    path = tmp_path / "policy.yaml"
    path.write_text(by_kind("ConfigMap")["data"]["policy.yaml"])
    policy = load.load_policy(str(path))
    assert policy.mode == "enforce"


def test_prometheusrule_carries_the_alert_rules():
    groups = by_kind("PrometheusRule")["spec"]["groups"]
    assert groups == yaml.safe_load(ALERTS.read_text())["groups"], (
        "run: tests/test_deploy_k8s.py sync"
    )


# --- regeneration ---------------------------------------------------------------------------

CONFIGMAP_HEAD = """\
# The policy baomi enforces, mounted at /etc/baomi/policy.yaml.
# Same content as policies/default.yaml (read that file for the commented version);
# tests/test_deploy_k8s.py checks that the two agree and that this one loads.
# After editing: kubectl apply, then roll the pods (kubectl -n baomi rollout restart deploy/baomi)
# or send SIGHUP; a policy that does not load is refused and the last good one stays in force.
apiVersion: v1
kind: ConfigMap
metadata:
  name: baomi-policy
  namespace: baomi
  labels:
    app.kubernetes.io/name: baomi
data:
  policy.yaml: |
"""

RULE_HEAD = """\
# deploy/prometheus/rules/baomi-alerts.yml for the prometheus-operator (generated by
# `tests/test_deploy_k8s.py sync`; edit the rules file, not this one). The label "release" is
# what kube-prometheus-stack selects by default; adjust to your ruleSelector.
"""


def sync() -> None:
    """Rewrite the ConfigMap and PrometheusRule from their sources."""
    def dump(data: object) -> str:
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)

    policy = dump(yaml.safe_load(POLICY.read_text()))
    (K8S / "configmap-policy.yaml").write_text(CONFIGMAP_HEAD + textwrap.indent(policy, "    "))
    rule = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": "baomi",
            "namespace": "baomi",
            "labels": {"app.kubernetes.io/name": "baomi", "release": "kube-prometheus-stack"},
        },
        "spec": {"groups": yaml.safe_load(ALERTS.read_text())["groups"]},
    }
    (K8S / "prometheusrule.yaml").write_text(RULE_HEAD + dump(rule))


if __name__ == "__main__":
    if sys.argv[1:] != ["sync"]:
        sys.exit("usage: test_deploy_k8s.py sync")
    sync()
