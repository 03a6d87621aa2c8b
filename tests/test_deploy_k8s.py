"""deploy/k8s/: every manifest valid against the Kubernetes API schemas
(kubernetes-validate, offline, strict: an unknown field is an error), and
the wiring the docs promise: one master that never runs twice, workers as a
StatefulSet that enroll with the token from the Secret and keep their home
(durable outbox, credential) on a volume claim, nothing referenced that the
Secret lacks."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
from ruamel.yaml import YAML

from tests.harness import ROOT

K8S = ROOT / "deploy" / "k8s"
VERSION = kubernetes_validate.latest_version()


def documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in YAML(typ="safe").load_all(path.read_text()) if d]


def everything() -> dict[tuple[str, str], dict[str, Any]]:
    found = {}
    for path in sorted(K8S.glob("*.yaml")):
        for doc in documents(path):
            found[(doc["kind"], doc["metadata"]["name"])] = doc
    return found


@pytest.mark.parametrize("path", sorted(K8S.glob("*.yaml")), ids=lambda p: p.name)
def test_manifest_is_valid(path: Path) -> None:
    for doc in documents(path):
        kubernetes_validate.validate(doc, VERSION, strict=True)


def test_the_validator_refuses_a_broken_manifest() -> None:
    deployment = copy.deepcopy(everything()[("StatefulSet", "hiscrm-worker")])
    deployment["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, VERSION, strict=True)
    deployment = copy.deepcopy(everything()[("StatefulSet", "hiscrm-worker")])
    deployment["spec"]["template"]["spec"]["containers"][0]["enviroment"] = []
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, VERSION, strict=True)


def _env(deployment: dict[str, Any]) -> dict[str, Any]:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e for e in container["env"]}


def test_wiring() -> None:
    found = everything()
    secret = found[("Secret", "hiscrm")]["stringData"]
    master = found[("Deployment", "hiscrm-master")]
    assert master["spec"]["replicas"] == 1 and master["spec"]["strategy"]["type"] == "Recreate"
    workers = found[("StatefulSet", "hiscrm-worker")]
    env = _env(workers)
    assert env["HISCRM_ENROLL_TOKEN"]["valueFrom"]["secretKeyRef"]["key"] == "enroll-token"
    service = found[("Service", "hiscrm-master")]
    host, port = env["HISCRM_MASTER"]["value"].split(":")
    assert host == service["metadata"]["name"]
    assert int(port) in [p["port"] for p in service["spec"]["ports"]]
    (container,) = workers["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["hiscrm-worker", "--id", "$(POD_NAME)"]
    # the outbox outlives the pod: HISCRM_HOME is a claim, never an emptyDir
    home = env["HISCRM_HOME"]["value"]
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == home]
    claims = [c["metadata"]["name"] for c in workers["spec"]["volumeClaimTemplates"]]
    assert mount["name"] in claims
    assert mount["name"] not in [v["name"] for v in workers["spec"]["template"]["spec"]["volumes"]]
    for deployment in (master, workers):
        for var in _env(deployment).values():
            ref = var.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                assert ref["name"] == "hiscrm" and ref["key"] in secret, var["name"]
    for doc in found.values():
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == "hiscrm", doc["metadata"]["name"]
