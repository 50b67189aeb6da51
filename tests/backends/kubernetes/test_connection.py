"""Connecting: options.kubeconfig / context / namespace, and credentials
kept out of every message."""

import json

import yaml

from tests.backends.kubernetes import manifests as m


def _two_context_kubeconfig(cluster, tmp_path, namespace):
    config = yaml.safe_load(open(cluster.kubeconfig))
    first = config["contexts"][0]
    other = {"name": "team", "context": dict(first["context"], namespace=namespace)}
    config["contexts"].append(other)
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return str(path), config


def test_context_option_selects_context_and_its_namespace(cluster, hook, fake, tmp_path):
    path, _ = _two_context_kubeconfig(cluster, tmp_path, hook.namespace)
    run = hook.run(m.dump(m.config_map("from-context")), kubeconfig=path, context="team",
                   namespace=None)
    assert run.status == 0, run
    assert f"ConfigMap/from-context in {hook.namespace}: created" in run.stdout
    assert cluster.get("v1", "ConfigMap", "from-context", hook.namespace) is not None


def test_unknown_context_names_the_option(cluster, hook, fake, tmp_path):
    path, _ = _two_context_kubeconfig(cluster, tmp_path, hook.namespace)
    run = hook.run(m.dump(m.config_map("c")), kubeconfig=path, context="nope")
    assert run.status != 0
    assert "options.context" in run.stderr and "nope" in run.stderr, run


def test_malformed_kubeconfig_never_echoes_its_content(cluster, hook, fake, tmp_path):
    token = "tok-" + "9" * 40
    path = tmp_path / "broken"
    path.write_text(f"apiVersion: v1\nusers:\n- name: u\n  user: {{token: {token}\n  bad: [\n")
    run = hook.run(m.dump(m.config_map("c")), kubeconfig=str(path))
    assert run.status != 0
    assert "options.kubeconfig" in run.stderr
    assert token not in json.dumps(run.result) and token not in run.log


def test_admin_token_never_in_result_or_log(cluster, hook, fake):
    # A failing run prints the most (diagnostics, errors): still no token.
    run = hook.run(m.dump(m.deployment("web", cluster.images["pull-error"])), timeout=30)
    assert run.status != 0
    text = json.dumps(run.result) + run.log
    assert fake.admin_token not in text
    assert "BEGIN CERTIFICATE" not in text and "certificate-authority-data" not in text


def test_output_from_an_object_outside_the_config(cluster, hook):
    run = hook.run(m.dump(m.config_map("c")), declare=[{"name": "api_ip"}],
                   outputs={"api_ip": "service/kubernetes.default:{.spec.clusterIP}"})
    assert run.status == 0, run
    assert run.result["api_ip"] == cluster.get("v1", "Service", "kubernetes", "default")["spec"]["clusterIP"]
