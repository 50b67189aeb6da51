import json

import pytest

from hook_kubectl import deployment, render
from hook_kubectl.errors import InputError
from tests.conftest import make_deployment

POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  containers:
  - name: web
    image: ${image}
    command: ["/bin/sh", "-c", "echo $HOME ${HOSTNAME} $${image} ${image}"]
"""


def rendered(config, inputs=(), options=None, fmt="manifests"):
    data = make_deployment(config, inputs=inputs, options=options)
    dep = deployment.parse(json.dumps(data), {})
    return render.render(dep, fmt), dep


def test_declared_inputs_substituted_shell_text_kept():
    objects, _ = rendered(POD, [{"name": "image", "type": "String", "value": "busybox:1"}])
    container = objects[0]["spec"]["containers"][0]
    assert container["image"] == "busybox:1"
    # $HOME and undeclared ${HOSTNAME} stay for the shell; $${image} is an escape.
    assert container["command"][2] == "echo $HOME ${HOSTNAME} ${image} busybox:1"


def test_whole_placeholder_keeps_type():
    config = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {
        "name": "d", "labels": "${labels}"}, "spec": {"replicas": "${n}"}}
    objects, _ = rendered(config, [
        {"name": "n", "type": "Number", "value": "3"},
        {"name": "labels", "type": "String", "value": "{'tier': 'web'}"}])
    assert objects[0]["spec"]["replicas"] == 3
    assert objects[0]["metadata"]["labels"] == {"tier": "web"}


def test_heat_inputs_are_not_substituted():
    objects, _ = rendered("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"
                          "data: {a: '${deploy_action}'}\n")
    assert objects[0]["data"]["a"] == "${deploy_action}"


def test_multi_document_list_and_structured():
    text = ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n"
            "apiVersion: v1\nkind: List\nitems:\n"
            "- {apiVersion: v1, kind: ConfigMap, metadata: {name: b}}\n"
            "- {apiVersion: v1, kind: Secret, metadata: {name: c}, stringData: {k: s3cr3t-value}}\n"
            "---\n")
    objects, dep = rendered(text)
    assert [o["metadata"]["name"] for o in objects] == ["a", "b", "c"]
    assert "s3cr3t-value" in dep.secrets
    structured, _ = rendered({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}]})
    assert structured[0]["metadata"]["name"] == "x"


def test_secret_data_base64_is_secret_both_ways():
    objects, dep = rendered("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n"
                            "data: {pw: aHVudGVyMjIy}\n")
    assert {"aHVudGVyMjIy", "hunter222"} <= dep.secrets


@pytest.mark.parametrize("config,message", [
    ("kind: Pod\nmetadata: {name: a}\n", "document 1: object has no apiVersion"),
    ("apiVersion: v1\nmetadata: {name: a}\n", "object has no kind"),
    ("apiVersion: v1\nkind: Pod\n", "Pod has no metadata"),
    ("apiVersion: v1\nkind: Pod\nmetadata: {labels: {}}\n", "Pod has no metadata.name"),
    ("apiVersion: v1\nkind: Pod\nmetadata: {name: Bad_Name}\n", "is not a valid name"),
    ("apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n---\n"
     "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n", "Pod/a is also document 1"),
    ("apiVersion: v1\nkind: List\nitems:\n- {kind: Pod}\n", "document 1 item 1: object has no apiVersion"),
    ("a: [1, 2\n", "config is not valid YAML at line"),
    ("- 1\n- 2\n", "a Kubernetes object must be a map"),
    ("---\n---\n", "config is missing or empty"),
])
def test_bad_manifests_rejected_before_anything_runs(config, message):
    with pytest.raises(InputError) as err:
        rendered(config)
    assert message in str(err.value)


def test_compose_format():
    objects, _ = rendered("services:\n  web:\n    image: ${image}\n",
                          [{"name": "image", "type": "String", "value": "busybox"}], fmt="compose")
    assert objects == [{"services": {"web": {"image": "busybox"}}}]
    with pytest.raises(InputError, match="non-empty `services:` map"):
        rendered("version: '3'\n", fmt="compose")
    with pytest.raises(InputError, match=r"format v1 \(services at the top level: db, web\) is not "
                                         "supported: put them under `services:`"):
        rendered("web: {image: busybox}\ndb: {image: busybox}\n", fmt="compose")
    with pytest.raises(InputError, match="services.web has no image"):
        rendered("services:\n  web: {command: x}\n", fmt="compose")
