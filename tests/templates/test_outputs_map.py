"""The built-in `outputs` output: every named output as one map.

A Heat provider template (container-app.yaml) cannot expose attributes whose
names vary with its parameters, so it declares `outputs` on the config and
hands that map on: {get_attr: [app, outputs, NAME]}. This checks the hook
side of that contract on the outputs stage itself."""

import json

from hook_kubectl import deployment as deployment_stage, outputs
from hook_kubectl.backends.base import ObjectReport, Outcome
from tests.conftest import make_deployment

SERVICE = {"apiVersion": "v1", "kind": "Service",
           "metadata": {"name": "web", "namespace": "demo"},
           "spec": {"clusterIP": "10.0.0.7", "ports": [{"port": 80}]}}


class LiveObjects:
    """The one method outputs.resolve asks of a backend: a live object."""
    name = "test"

    def live_object(self, kind, name, namespace):
        if (kind.lower(), name) == ("service", "web"):
            return SERVICE
        return None


def _resolve(declared):
    raw = make_deployment(
        [SERVICE], options={"outputs": {"web_ip": "service/web.demo:{.spec.clusterIP}",
                                        "web_port": "service/web.demo:{.spec.ports[0].port}"}},
        outputs=[{"name": n} for n in declared])
    dep = deployment_stage.parse(json.dumps(raw), environ={})
    outcome = Outcome(objects=[ObjectReport("Service", "web", "demo", "created", True)])
    return outputs.resolve(dep, LiveObjects(), outcome, [SERVICE])


def test_outputs_map_holds_every_named_output():
    values = _resolve(["web_ip", "outputs"])
    assert values["outputs"] == {"web_ip": "10.0.0.7", "web_port": 80}
    assert values["web_ip"] == "10.0.0.7"


def test_outputs_map_only_when_declared():
    assert "outputs" not in _resolve(["web_ip"])


def test_output_expressions_take_declared_inputs():
    """Manifests name objects with ${name}; so must the output expressions
    that read them (templates/examples pass the same input to both)."""
    raw = make_deployment(
        [{**SERVICE, "metadata": {"name": "${app}", "namespace": "demo"}}],
        options={"outputs": {"web_ip": "service/${app}.demo:{.spec.clusterIP}"}},
        inputs=[{"name": "app", "type": "String", "value": "web"}],
        outputs=[{"name": "web_ip"}])
    dep = deployment_stage.parse(json.dumps(raw), environ={})
    outcome = Outcome(objects=[ObjectReport("Service", "web", "demo", "created", True)])
    outputs.check(dep, [SERVICE])
    assert outputs.resolve(dep, LiveObjects(), outcome, [SERVICE]) == {"web_ip": "10.0.0.7"}
