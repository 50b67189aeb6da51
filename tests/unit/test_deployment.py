import json

import pytest

from hook_kubectl import deployment
from hook_kubectl.errors import InputError
from tests.conftest import make_deployment

EXAMPLES = "/work/shared/examples"


def parse(data, environ=None):
    return deployment.parse(json.dumps(data), environ or {})


def test_example_tempurl_parses_with_identity_and_typed_inputs():
    with open(f"{EXAMPLES}/deployment-tempurl.json") as f:
        dep = deployment.parse(f.read(), {})
    assert dep.action == "CREATE"
    assert dep.identity.stack_id == "overcloud-Controller-abc123/4f0d9e1c-2a3b-4c5d-8e9f-0a1b2c3d4e5f"
    assert dep.identity.resource_name == "WebDeployment"
    assert dep.identity.stack_name == "overcloud-Controller-abc123"
    # 55-heat-config str()s a map given to a String input: read back as a map.
    assert dep.inputs["extra_labels"] == {"tier": "frontend", "team": "infra"}
    assert dep.inputs["image"] == "registry.example.com/web:1.4"
    assert "deploy_action" not in dep.inputs and "deploy_action" in dep.heat_inputs
    assert dep.backend == "kubernetes"
    assert dep.options["timeout"] == 300
    assert [o.name for o in dep.outputs] == ["web_ip"]


def test_example_heat_signal_password_is_a_secret():
    with open(f"{EXAMPLES}/deployment-heat-signal-structured.json") as f:
        dep = deployment.parse(f.read(), {})
    assert dep.action == "UPDATE"
    assert "p4ss-never-in-output" in dep.secrets
    assert isinstance(dep.config, dict)


def test_identity_is_stable_across_config_ids():
    a = parse(make_deployment("x", config_id="one"))
    b = parse(make_deployment("x", config_id="two", action="UPDATE"))
    assert a.id != b.id
    assert a.identity == b.identity and a.identity.key == b.identity.key
    other = parse(make_deployment("x", resource_name="Other"))
    assert other.identity.key != a.identity.key
    assert len(a.identity.key) <= 63 and a.identity.key.isalnum()


def test_literal_reads_reprs_but_never_code():
    assert deployment.literal("['a', 'b']") == ["a", "b"]
    assert deployment.literal("{'k': 1}") == {"k": 1}
    assert deployment.literal("True") is True
    assert deployment.literal("__import__('os').system('true')") == "__import__('os').system('true')"
    assert deployment.literal("[__import__('os')]") == "[__import__('os')]"
    assert deployment.literal("plain text") == "plain text"


@pytest.mark.parametrize("kind,value,expected", [
    ("Number", "3", 3),
    ("Number", "2.5", 2.5),
    ("CommaDelimitedList", "a, b,c", ["a", "b", "c"]),
    ("CommaDelimitedList", "['a', 'b']", ["a", "b"]),
    ("Json", "{'a': [1, 2]}", {"a": [1, 2]}),
    ("Boolean", "True", True),
    ("String", "hello", "hello"),
])
def test_inputs_take_their_declared_type(kind, value, expected):
    dep = parse(make_deployment("x", inputs=[{"name": "v", "type": kind, "value": value}]))
    assert dep.inputs["v"] == expected


@pytest.mark.parametrize("change,message", [
    ({"options": {"bogus": 1}}, "options.bogus: unknown option"),
    ({"options": {"backend": "nomad"}}, "options.backend: unknown backend 'nomad'"),
    ({"options": {"timeout": "soon"}}, "options.timeout: must be a number"),
    ({"options": {"timeout": -5}}, "options.timeout: must be between"),
    ({"options": {"wait": "maybe"}}, "options.wait: must be true or false"),
    ({"options": {"outputs": {"ip": ""}}}, "options.outputs.ip"),
    ({"options": ["not", "a", "map"]}, "options must be a map"),
    ({"config": ""}, "config is missing or empty"),
    ({"config": None}, "config is missing or empty"),
    ({"inputs": "x"}, "inputs must be a list"),
    ({"outputs": [{"type": "String"}]}, "outputs[0] must be an object with a name"),
])
def test_invalid_fields_are_named(change, message):
    data = make_deployment("apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n")
    data.update(change)
    with pytest.raises(InputError) as err:
        parse(data)
    assert message in str(err.value)


def test_unknown_action_and_missing_identity():
    with pytest.raises(InputError, match="deploy_action: unknown action 'REBOOT'"):
        parse(make_deployment("x", action="REBOOT"))
    data = make_deployment("x")
    data["inputs"] = [i for i in data["inputs"] if i["name"] != "deploy_stack_id"]
    with pytest.raises(InputError, match="deploy_stack_id is missing"):
        parse(data)


def test_backend_from_node_environment_then_default():
    data = make_deployment("x")
    assert parse(data, {"HEAT_KUBECTL_BACKEND": "podman"}).backend == "podman"
    assert parse(data, {}).backend == "kubernetes"
    data["options"] = {"backend": "compose"}
    assert parse(data, {"HEAT_KUBECTL_BACKEND": "podman"}).backend == "compose"
    with pytest.raises(InputError, match="HEAT_KUBECTL_BACKEND: unknown backend"):
        parse(make_deployment("x"), {"HEAT_KUBECTL_BACKEND": "k3s"})


def test_delete_needs_no_config():
    dep = parse(make_deployment("", action="DELETE"))
    assert dep.action == "DELETE"


def test_string_options_from_template_parameters():
    dep = parse(make_deployment("x", options={"timeout": "45", "wait": "false"}))
    assert dep.options["timeout"] == 45.0 and dep.options["wait"] is False
