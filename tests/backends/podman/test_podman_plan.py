"""The podman backend's planning, checks, probes and status shape, without
containers: what is played, what is hashed, what is noted or refused."""

import http.server
import json
import os
import socket
import threading

import pytest
import yaml

from hook_kubectl import deployment as deployment_stage, render
from hook_kubectl.backends import base
from hook_kubectl.backends import podman as backend_module
from hook_kubectl.backends import podman_readiness as readiness
from hook_kubectl.errors import InputError
from tests.conftest import make_deployment

IMAGE = "localhost/heat-kubectl-busybox:test"


def objects_and_backend(objects, config_id="cfg-1", workdir="/tmp/unused"):
    raw = make_deployment(yaml.safe_dump_all(objects), options={"backend": "podman"},
                          config_id=config_id)
    dep = deployment_stage.parse(json.dumps(raw), environ={})
    os.environ[base.WORKDIR_ENV] = workdir
    try:
        backend = backend_module.BACKEND(dep)
    finally:
        del os.environ[base.WORKDIR_ENV]
    return render.render(dep), backend


def pod(name, command="sleep 600", **container_extra):
    container = {"name": "main", "image": IMAGE, "command": ["sh", "-c", command]}
    container.update(container_extra)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [container]}}


def hashes(objects, config_id="cfg-1"):
    rendered, backend = objects_and_backend(objects, config_id)
    workloads, _ = backend._plan(rendered)
    return {w.name: w.hash for w in workloads}


def configmap(name, value):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
            "data": {"VALUE": value}}


def uses_configmap(name, cm):
    return pod(name, env=[{"name": "V", "valueFrom": {"configMapKeyRef": {"name": cm, "key": "VALUE"}}}])


def test_hash_ignores_the_config_id_but_follows_the_command():
    base = [pod("a"), pod("b")]
    assert hashes(base, "cfg-1") == hashes(base, "cfg-2")
    changed = hashes([pod("a", "sleep 700"), pod("b")])
    assert changed["a"] != hashes(base)["a"]
    assert changed["b"] == hashes(base)["b"]


def test_a_configmap_change_replaces_only_the_pods_that_use_it():
    before = hashes([configmap("cm", "one"), uses_configmap("user", "cm"), pod("other")])
    after = hashes([configmap("cm", "two"), uses_configmap("user", "cm"), pod("other")])
    assert before["user"] != after["user"]
    assert before["other"] == after["other"]


def test_a_secret_change_changes_the_hash_of_its_user():
    def config(value):
        secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
                  "stringData": {"KEY": value}}
        return [secret, pod("user", envFrom=[{"secretRef": {"name": "s"}}])]
    assert hashes(config("first-value"))["user"] != hashes(config("second-value"))["user"]


def test_played_pod_carries_identity_labels_hash_and_annotations():
    rendered, backend = objects_and_backend([pod("web")])
    (workload,), _ = backend._plan(rendered)
    played = workload.docs[-1]
    labels = played["metadata"]["labels"]
    assert labels["kubectl.heat.openstack.org/deployment"] == backend.key
    assert labels["app.kubernetes.io/managed-by"] == "heat-config-kubectl"
    assert labels["kubectl.heat.openstack.org/workload"] == "pod.web"
    assert labels["kubectl.heat.openstack.org/config-hash"] == workload.hash
    notes = played["metadata"]["annotations"]
    assert notes["kubectl.heat.openstack.org/resource-name"] == "TestDeployment"
    assert played["spec"]["containers"][0]["imagePullPolicy"] == "Never"


def test_deployment_plays_one_replica_with_labels_on_its_template():
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                  "spec": {"replicas": 4, "selector": {"matchLabels": {"app": "web"}},
                           "template": {"metadata": {"labels": {"app": "web"}},
                                        "spec": pod("x")["spec"]}}}
    rendered, backend = objects_and_backend([deployment])
    (workload,), _ = backend._plan(rendered)
    played = workload.docs[-1]
    assert played["spec"]["replicas"] == 1 and workload.replicas == 4
    template_labels = played["spec"]["template"]["metadata"]["labels"]
    assert template_labels["app"] == "web"
    assert template_labels["kubectl.heat.openstack.org/deployment"] == backend.key
    assert "kubectl.heat.openstack.org/stack-id" in played["metadata"]["annotations"]
    assert workload.pod_names[0] == "web-pod-0"


def test_secrets_are_inlined_and_secret_volumes_become_private_files():
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"},
              "data": {"user": "Ym9i"}, "stringData": {"password": "pa55word"}}
    user = pod("app",
               env=[{"name": "PW", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "password"}}},
                    {"name": "PLAIN", "value": "x"}],
               envFrom=[{"secretRef": {"name": "creds"}, "prefix": "C_"}],
               volumeMounts=[{"name": "v", "mountPath": "/v"}, {"name": "tmp", "mountPath": "/t"}])
    user["spec"]["volumes"] = [
        {"name": "v", "secret": {"secretName": "creds", "defaultMode": 0o400,
                                 "items": [{"key": "password", "path": "sub/pw"}]}},
        {"name": "tmp", "emptyDir": {}}]
    rendered, backend = objects_and_backend([secret, user], workdir="/srv/work")
    (workload,), _ = backend._plan(rendered)
    container = workload.docs[-1]["spec"]["containers"][0]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env == {"C_user": "bob", "C_password": "pa55word", "PW": "pa55word", "PLAIN": "x"}
    assert "envFrom" not in container
    volumes = {v["name"]: v for v in workload.docs[-1]["spec"]["volumes"]}
    assert volumes["v"]["hostPath"]["path"].startswith(backend.workdir + "/secrets/pod.app/")
    assert "secret" not in volumes["v"]
    assert workload.files == {"secrets/pod.app/v/sub/pw": (b"pa55word", 0o400)}
    # emptyDir volumes get a node-wide unique name (podman 4.3 names them as given).
    assert "pod-app-tmp" in volumes
    assert {"name": "pod-app-tmp", "mountPath": "/t"} in container["volumeMounts"]
    # Nothing about the Secret is played as a document of its own.
    assert [d["kind"] for d in workload.docs] == ["Pod"]


def test_secret_files_are_written_private(tmp_path):
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"},
              "stringData": {"password": "pa55word"}}
    user = pod("app", volumeMounts=[{"name": "v", "mountPath": "/v"}])
    user["spec"]["volumes"] = [{"name": "v", "secret": {"secretName": "creds"}}]
    rendered, backend = objects_and_backend([secret, user], workdir=str(tmp_path))
    (workload,), _ = backend._plan(rendered)
    backend._store(rendered)
    backend._write_files(workload)
    path = os.path.join(backend.workdir, "secrets", "pod.app", "v", "password")
    assert open(path).read() == "pa55word"
    assert os.stat(path).st_mode & 0o777 == 0o644
    assert os.stat(backend.workdir).st_mode & 0o777 == 0o700
    assert os.stat(os.path.join(backend.workdir, "secrets")).st_mode & 0o777 == 0o700
    stored = open(os.path.join(backend.workdir, "manifest.json")).read()
    assert "pa55word" not in stored and '"creds"' in stored
    assert os.stat(os.path.join(backend.workdir, "manifest.json")).st_mode & 0o777 == 0o600


@pytest.mark.parametrize("extra, message", [
    ({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "nightly"}, "spec": {}},
     "CronJob/nightly: the podman backend cannot run a CronJob (there is no scheduler"),
    ({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "once"},
      "spec": {"template": {"spec": {"restartPolicy": "Always", "containers": [
          {"name": "c", "image": IMAGE}]}}}},
     "Job/once: spec.template.spec.restartPolicy must be Never or OnFailure for a Job"),
    ({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
      "spec": {"replicas": "two", "template": {"spec": {"containers": [{"name": "c", "image": IMAGE}]}}}},
     "StatefulSet/db: spec.replicas must be a whole number >= 0"),
    ({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "empty"}, "spec": {}},
     "Pod/empty: spec.containers must list at least one container"),
    (pod("nocm", env=[{"name": "V", "valueFrom": {"configMapKeyRef": {"name": "gone", "key": "k"}}}]),
     "Pod/nocm uses ConfigMap/gone, which is not in this deployment's config"),
])
def test_check_refuses_what_cannot_run(extra, message):
    rendered, backend = objects_and_backend([pod("fine"), extra])
    with pytest.raises(InputError) as error:
        backend.check(rendered)
    assert message in str(error.value)


def test_check_notes_what_it_honours_only_in_part():
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "lb", "namespace": "prod"},
               "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}}
    ingress = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "in"}}
    crd = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    grpc = pod("g", readinessProbe={"grpc": {"port": 9000}})
    optional = pod("o", env=[{"name": "V", "valueFrom": {"secretKeyRef": {
        "name": "absent", "key": "k", "optional": True}}}])
    rendered, backend = objects_and_backend([service, ingress, crd, grpc, optional])
    notes = "\n".join(backend.check(rendered))
    assert "namespaces (prod) are not used on podman" in notes
    assert "Service/lb: not run on podman (type LoadBalancer is not available either)" in notes
    assert "Ingress/in: not run on podman (single node); ignored" in notes
    assert "Widget/w: not run on podman (single node); ignored" in notes
    assert "Pod/g: container main readinessProbe grpc is not checked on podman" in notes


def test_bad_secret_data_names_the_key():
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
              "data": {"token": "not base64!"}}
    rendered, backend = objects_and_backend([secret, pod("p")])
    with pytest.raises(InputError) as error:
        backend._plan(rendered)
    assert "Secret/s: data.token is not valid base64" in str(error.value)


def test_missing_secret_key_names_env_and_key():
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
              "stringData": {"present": "value"}}
    user = pod("p", env=[{"name": "X", "valueFrom": {"secretKeyRef": {"name": "s", "key": "absent"}}}])
    rendered, backend = objects_and_backend([secret, user])
    with pytest.raises(InputError) as error:
        backend._plan(rendered)
    assert "Pod/p: env X uses key 'absent' that Secret/s does not have" in str(error.value)


# ------------------------------------------------------------ probes and status

@pytest.fixture
def local_http():
    """A real HTTP server on 127.0.0.1: /ok answers 200, anything else 404."""
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path == "/ok" else 404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()


def pod_state(ip="127.0.0.1", status="running", restarts=0, exit_code=0, started="2020-01-01T00:00:00Z"):
    pod_inspect = {"Id": "p1", "Name": "web", "InfraContainerID": "infra",
                   "InfraConfig": {"HostNetwork": False,
                                   "PortBindings": {"8080/tcp": [{"HostIp": "", "HostPort": "18080"}]}},
                   "Labels": {"app": "web"}, "Created": "2020-01-01T00:00:00.5Z"}
    infra = {"Id": "infra", "Name": "p1-infra",
             "NetworkSettings": {"Networks": {"podman": {"IPAddress": ip}}}}
    main = {"Id": "c1", "Name": "web-main", "RestartCount": restarts, "ImageName": IMAGE,
            "State": {"Status": status, "ExitCode": exit_code, "StartedAt": started,
                      "FinishedAt": "0001-01-01T00:00:00Z"}}
    return readiness.PodState(pod_inspect, [infra, main])


def test_http_and_tcp_probes_run_from_this_node(local_http):
    state = pod_state()
    container = {"name": "main", "ports": [{"name": "http", "containerPort": local_http}]}
    ok = {"httpGet": {"path": "/ok", "port": "http"}}
    assert readiness.run_probe("readinessProbe", ok, "c1", state, container) == ""
    missing = {"httpGet": {"path": "/missing", "port": local_http}}
    assert readiness.run_probe("readinessProbe", missing, "c1", state, container) == (
        f"readinessProbe httpGet http://127.0.0.1:{local_http}/missing: HTTP 404")
    assert readiness.run_probe("livenessProbe", {"tcpSocket": {"port": local_http}},
                               "c1", state, container) == ""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    why = readiness.run_probe("readinessProbe", {"tcpSocket": {"port": closed}}, "c1", state, container)
    assert why.startswith(f"readinessProbe tcpSocket 127.0.0.1:{closed}:")


def test_evaluate_waits_for_a_failing_probe_and_passes_a_good_one(local_http):
    probe = {"httpGet": {"path": "/nope", "port": local_http}}
    spec = {"containers": [{"name": "main", "readinessProbe": probe}]}
    check = readiness.PodCheck("pod/web", "p1", spec)
    readiness.evaluate(check, pod_state(), since="2020-01-01T00:00:00Z")
    assert not check.ready and not check.failure
    assert "container main: readinessProbe httpGet" in check.waiting and "HTTP 404" in check.waiting
    spec["containers"][0]["readinessProbe"]["httpGet"]["path"] = "/ok"
    readiness.evaluate(check, pod_state(), since="2020-01-01T00:00:00Z")
    assert check.ready and check.waiting == ""


def test_evaluate_completed_container_under_restart_never_is_ready():
    check = readiness.PodCheck("pod/job", "p1", {"restartPolicy": "Never", "containers": [{"name": "main"}]})
    readiness.evaluate(check, pod_state(status="exited", exit_code=0), since="2020-01-01T00:00:00Z")
    assert check.ready and not check.failure


def test_evaluate_just_started_container_is_not_ready_yet():
    import datetime
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    check = readiness.PodCheck("pod/web", "p1", {"containers": [{"name": "main"}]})
    readiness.evaluate(check, pod_state(started=now), since=now)
    assert not check.ready and "just started" in check.waiting


def test_pod_status_has_kubernetes_shape():
    status = readiness.pod_status(pod_state(ip="10.88.0.7", restarts=1), {"containers": [{"name": "main"}]})
    assert status["phase"] == "Running" and status["podIP"] == "10.88.0.7"
    assert status["conditions"][0] == {"type": "Ready", "status": "True"}
    (container,) = status["containerStatuses"]
    assert container["name"] == "main" and container["restartCount"] == 1
    assert container["state"] == {"running": {"startedAt": "2020-01-01T00:00:00Z"}}
    assert pod_state().host_ports() == {8080: 18080}
    failed = readiness.pod_status(pod_state(status="exited", exit_code=2), {"restartPolicy": "Never"})
    assert failed["phase"] == "Failed"
    assert failed["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 2


def test_statefulset_plays_as_one_pod_with_claims_named_like_kubernetes():
    statefulset = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
                   "spec": {"replicas": 3, "serviceName": "db",
                            "selector": {"matchLabels": {"app": "db"}},
                            "template": {"metadata": {"labels": {"app": "db"}},
                                         "spec": {"containers": [{
                                             "name": "db", "image": IMAGE,
                                             "volumeMounts": [{"name": "data", "mountPath": "/d"}]}]}},
                            "volumeClaimTemplates": [{"metadata": {"name": "data"},
                                                      "spec": {"accessModes": ["ReadWriteOnce"]}}]}}
    rendered, backend = objects_and_backend([statefulset])
    notes = "\n".join(backend.check(rendered))
    assert "StatefulSet/db: replicas 3 requested, podman runs 1 pod on one node" in notes
    assert "StatefulSet/db: runs as one pod, db-0, on this node" in notes
    (workload,), _ = backend._plan(rendered)
    played = workload.docs[-1]
    assert played["kind"] == "Pod" and played["metadata"]["name"] == "db-0"
    assert played["metadata"]["labels"]["app"] == "db"
    assert played["metadata"]["labels"]["kubectl.heat.openstack.org/workload"] == "statefulset.db"
    assert {"name": "data", "persistentVolumeClaim": {"claimName": "data-db-0"}} in played["spec"]["volumes"]
    assert [c["metadata"]["name"] for c in workload.claims] == ["data-db-0"]
    assert workload.pod_names == ["db-0"]


def test_job_waits_for_completion():
    spec = {"containers": [{"name": "main"}]}
    check = readiness.PodCheck("job/migrate", "p1", spec, complete=True)
    readiness.evaluate(check, pod_state(status="running"), since="2020-01-01T00:00:00Z")
    assert not check.ready and "a Job is ready when it completes" in check.waiting
    readiness.evaluate(check, pod_state(status="exited", exit_code=0), since="2020-01-01T00:00:00Z")
    assert check.ready


def test_restart_loop_with_exit_code_lost_to_event_log_rotation_still_explains(monkeypatch):
    from hook_kubectl.backends import podman_readiness as readiness

    monkeypatch.setattr(readiness, "last_exit_code", lambda cid, since: None)
    monkeypatch.setattr(readiness, "container_logs", lambda cid: "started and left")
    check = readiness.PodCheck("pod/brief", "pod-id", {"containers": [{"name": "main"}]})
    pod = {"Name": "brief", "Id": "pod-id", "InfraContainerID": "infra"}
    container = {"Id": "c1", "Name": "brief-main", "RestartCount": 0, "State": {"Status": "running"}}
    readiness.evaluate(check, readiness.PodState(pod, [container]), "2026-01-01T00:00:00Z")
    assert not check.failure
    container["RestartCount"] = readiness.RESTART_LIMIT
    readiness.evaluate(check, readiness.PodState(pod, [container]), "2026-01-01T00:00:00Z")
    assert check.failure == (
        f"container main keeps restarting: restarted {readiness.RESTART_LIMIT} times (its exit code "
        "is no longer in podman's event log): if its command ends, even with code 0, it must keep "
        "running (restartPolicy Always): does its command stay in the foreground?")
    assert check.logs == "started and left"


# `podman events --format json` lines for a container's deaths, as podman 4.3
# prints them: the exit code field is left out when it is 0.
DIED_0 = ('{"ID":"350c","Image":"localhost/heat-kubectl-busybox:test","Name":"brief-main",'
          '"Status":"died","Time":"2026-11-30T06:46:44.032298679Z","Type":"container","Attributes":{}}')
DIED_3 = ('{"ContainerExitCode":3,"ID":"848c","Image":"localhost/heat-kubectl-busybox:test",'
          '"Name":"brief-main","Status":"died","Time":"2026-11-30T06:46:53.499530141Z",'
          '"Type":"container","Attributes":{}}')


@pytest.mark.parametrize("lines,code", [([DIED_0], 0), ([DIED_3], 3), ([DIED_3, DIED_0], 0),
                                        ([DIED_0, DIED_3], 3), ([], None)])
def test_last_exit_code_reads_podman_events(monkeypatch, lines, code):
    import subprocess

    def fake_podman(args, **kwargs):
        assert args[:2] == ["events", "--stream=false"] and "event=died" in args
        return subprocess.CompletedProcess(["podman", *args], 0, "\n".join(lines) + "\n", "")

    monkeypatch.setattr(readiness, "podman", fake_podman)
    assert readiness.last_exit_code("c1", "2026-11-30T06:46:40Z") == code
