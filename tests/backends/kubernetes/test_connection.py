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


def test_in_cluster_configuration(cluster, fake, tmp_path, monkeypatch, namespace):
    """No kubeconfig anywhere: the pod's service account is used (its token
    file, CA and namespace), as a hook running inside a cluster would."""
    import base64
    import urllib.parse

    from kubernetes.config import incluster_config

    from hook_kubectl.backends import k8s_client
    from hook_kubectl.backends.base import Deadline

    kubeconfig = yaml.safe_load(open(cluster.kubeconfig))
    server = urllib.parse.urlsplit(kubeconfig["clusters"][0]["cluster"]["server"])
    ca = base64.b64decode(kubeconfig["clusters"][0]["cluster"]["certificate-authority-data"])
    (tmp_path / "token").write_text(fake.admin_token)
    (tmp_path / "ca.crt").write_bytes(ca)
    (tmp_path / "namespace").write_text(namespace)
    monkeypatch.setattr(incluster_config, "SERVICE_TOKEN_FILENAME", str(tmp_path / "token"))
    monkeypatch.setattr(incluster_config, "SERVICE_CERT_FILENAME", str(tmp_path / "ca.crt"))
    monkeypatch.setattr(k8s_client, "SERVICE_ACCOUNT_NAMESPACE", str(tmp_path / "namespace"))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", server.hostname)
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(server.port))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.kube/config either

    conn = k8s_client.Connection({"concurrency": 4}, Deadline(30))
    try:
        assert conn.source == "in-cluster"
        assert conn.namespace == namespace
        names = [n["metadata"]["name"] for n in conn.list(conn.resource("v1", "Namespace"))["items"]]
        assert namespace in names
    finally:
        conn.close()


def test_no_configuration_at_all_is_a_clear_error(cluster, hook, tmp_path):
    import os

    env = {k: v for k, v in os.environ.items()
           if k not in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT")}
    env["HOME"] = str(tmp_path)
    run = hook.run(m.dump(m.config_map("c")), env=env, kubeconfig=None)
    assert run.status != 0
    assert "no Kubernetes cluster configured" in run.stderr and "options.kubeconfig" in run.stderr
