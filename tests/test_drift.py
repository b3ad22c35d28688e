"""scripts/drift.py's reading of `pulumi refresh --preview-only --json` (the engine tests run it for real)."""

from __future__ import annotations

import importlib.util
import sys

from tests.conftest import ROOT

spec = importlib.util.spec_from_file_location("drift", ROOT / "scripts" / "drift.py")
drift = importlib.util.module_from_spec(spec)
sys.modules["drift"] = drift
spec.loader.exec_module(drift)

STACK = "urn:pulumi:prod::clearml-openshift::pulumi:pulumi:Stack::clearml-openshift-prod"
DEPLOYMENT = ("urn:pulumi:prod::clearml-openshift::clearml:index:ClearmlServer$clearml:webserver:WebServer"
              "$kubernetes:apps/v1:Deployment::clearml-webserver-deployment")
ROUTE = ("urn:pulumi:prod::clearml-openshift::clearml:index:ClearmlServer$clearml:edge:Edge$clearml:route:Route"
         "$kubernetes:route.openshift.io/v1:Route::clearml-edge-app-route")


def _state(name: str) -> dict:
    return {"outputs": {"metadata": {"name": name, "namespace": "clearml"}}}


def test_unchanged_resources_are_not_drift():
    report = {"steps": [{"op": "refresh", "urn": DEPLOYMENT}, {"op": "same", "urn": STACK}]}
    assert drift.drifted(report) == []


def test_changed_and_deleted_resources_are_listed_with_fields():
    report = {"steps": [
        {"op": "update", "urn": STACK},
        {"op": "update", "urn": DEPLOYMENT, "oldState": _state("clearml-webserver"),
         "detailedDiff": {"spec.template.spec.containers[0].image": {}, "spec.replicas": {}}},
        {"op": "delete", "urn": ROUTE, "oldState": _state("clearml-app")},
    ]}
    assert drift.drifted(report) == [
        {"op": "update", "type": "kubernetes:apps/v1:Deployment", "name": "clearml-webserver-deployment",
         "object": "clearml/clearml-webserver", "fields": ["spec.replicas", "spec.template.spec.containers[0].image"]},
        {"op": "delete", "type": "kubernetes:route.openshift.io/v1:Route", "name": "clearml-edge-app-route",
         "object": "clearml/clearml-app", "fields": []},
    ]


def test_exit_codes_are_distinct():
    assert len({drift.NO_DRIFT, drift.DRIFT, drift.ERROR}) == 3 and drift.NO_DRIFT == 0
