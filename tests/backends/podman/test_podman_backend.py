"""The podman backend through hooks/kubectl, with real containers.

Every test runs the hook as 55-heat-config does (JSON on stdin, one JSON on
stdout), uses pod names with a random suffix and free host ports, and its
deployer fixture DELETEs through the hook and then force-removes anything
left that carries the test's identity label.
"""

import json
import os
import re
import stat
import time
import urllib.request

import yaml

from tests.backends.podman.conftest import free_port, podman, podman_json
from tests.containers import IMAGE

SECRET = "s3cret-Value-4711"


def pod(name, command, port=None, probe=None, restart=None, image=IMAGE, labels=None):
    container = {"name": "main", "image": image, "command": ["sh", "-c", command]}
    if port:
        container["ports"] = [{"containerPort": 8080, "hostPort": port, "name": "http"}]
    if probe:
        container["readinessProbe"] = probe
    spec = {"terminationGracePeriodSeconds": 1, "containers": [container]}
    if restart:
        spec["restartPolicy"] = restart
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": labels or {"app": name}}, "spec": spec}


def web_command(text):
    return f"echo '{text}' > /tmp/index.html; exec httpd -f -p 8080 -h /tmp"


def dump(*objects):
    return yaml.safe_dump_all(objects)


def fetch(url, timeout=5):
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(
            url, timeout=timeout) as response:
        return response.read().decode()


def fetch_fails(url):
    try:
        fetch(url, timeout=2)
    except OSError:
        return True
    return False


def test_deployment_serves_http_and_fills_outputs(deployer, suffix, hook_env):
    web = deployer()
    port = free_port()
    name = f"web-{suffix}"
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": name}},
                 "template": pod(name, web_command("served by podman"), port,
                                 probe={"httpGet": {"path": "/", "port": "http"}})}}
    # podman turns this into a curl healthcheck the image cannot run; the hook
    # runs the probe itself from the node.
    deployment["spec"]["template"]["spec"]["containers"][0]["livenessProbe"] = {
        "tcpSocket": {"port": 8080}, "periodSeconds": 5}
    del deployment["spec"]["template"]["apiVersion"], deployment["spec"]["template"]["kind"]
    service = {"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": name, "namespace": "demo"},
               "spec": {"selector": {"app": name}, "ports": [{"port": 80, "targetPort": "http"}]}}
    outputs = {"pod_ip": f"pod/{name}-pod-0:{{.status.podIP}}",
               "ready": f"deployment/{name}:{{.status.readyReplicas}}",
               "phase": f"pod/{name}-pod-0:{{.status.phase}}",
               "service_ip": f"service/{name}.demo:{{.spec.clusterIP}}",
               "host_port": f"service/{name}.demo:{{.spec.ports[0].hostPort}}"}

    result = web.run(dump(deployment, service), options={"outputs": outputs},
                     outputs=list(outputs))

    assert result["deploy_status_code"] == 0, result
    assert fetch(f"http://127.0.0.1:{port}/") == "served by podman\n"
    assert result["ready"] == 1 and result["phase"] == "Running"
    assert result["pod_ip"] and result["service_ip"] == result["pod_ip"]
    assert fetch(f"http://{result['pod_ip']}:8080/") == "served by podman\n"
    assert result["host_port"] == port
    stdout = result["deploy_stdout"]
    assert f"Deployment/{name}: created, ready" in stdout
    assert "replicas 3 requested, podman runs 1 pod" in stdout
    assert f"Service/{name}" in stdout and "not run on podman" in stdout
    assert "namespaces (demo) are not used on podman" in stdout
    # Ownership marks: identity labels on the pod, annotations on its container.
    assert web.pod(f"{name}-pod-0")["Labels"]["app.kubernetes.io/managed-by"] == "heat-config-kubectl"
    container = podman_json("container", "inspect", f"{name}-pod-0-main", env=hook_env)[0]
    assert container["Config"]["Annotations"]["kubectl.heat.openstack.org/stack-id"] == web.stack_id
    # The work dir keeps the manifest, private.
    workdir = os.path.join(hook_env["HEAT_KUBECTL_WORKDIR"], "podman")
    (slug,) = os.listdir(workdir)
    assert stat.S_IMODE(os.stat(os.path.join(workdir, slug)).st_mode) == 0o700
    manifest = os.path.join(workdir, slug, "manifest.json")
    assert stat.S_IMODE(os.stat(manifest).st_mode) == 0o600
    assert json.load(open(manifest))["objects"][0]["metadata"]["name"] == name


def test_update_replaces_only_what_changed(deployer, suffix):
    web = deployer()
    port_a, port_b = free_port(), free_port()
    keep = pod(f"keep-{suffix}", web_command("keep"), port_a)
    change = pod(f"change-{suffix}", web_command("version one"), port_b)
    assert web.run(dump(keep, change))["deploy_status_code"] == 0
    assert fetch(f"http://127.0.0.1:{port_b}/") == "version one\n"
    keep_id = web.pod(f"keep-{suffix}")["Id"]
    change_id = web.pod(f"change-{suffix}")["Id"]

    change["spec"]["containers"][0]["command"][2] = web_command("version two")
    result = web.run(dump(keep, change), action="UPDATE")

    assert result["deploy_status_code"] == 0, result
    assert f"Pod/keep-{suffix}: unchanged, ready" in result["deploy_stdout"]
    assert f"Pod/change-{suffix}: configured, ready" in result["deploy_stdout"]
    assert fetch(f"http://127.0.0.1:{port_b}/") == "version two\n"
    assert web.pod(f"keep-{suffix}")["Id"] == keep_id
    assert web.pod(f"change-{suffix}")["Id"] != change_id


def test_update_that_drops_an_object_removes_its_pod(deployer, suffix):
    web = deployer()
    port = free_port()
    stays = pod(f"stays-{suffix}", "exec sleep 600")
    goes = pod(f"goes-{suffix}", web_command("going"), port)
    assert web.run(dump(stays, goes))["deploy_status_code"] == 0
    assert fetch(f"http://127.0.0.1:{port}/") == "going\n"

    result = web.run(dump(stays), action="UPDATE")

    assert result["deploy_status_code"] == 0, result
    assert f"Pod/goes-{suffix}: pruned" in result["deploy_stdout"]
    assert [p["Name"] for p in web.pods()] == [f"stays-{suffix}"]
    assert podman("container", "exists", f"goes-{suffix}-main").returncode == 1
    assert fetch_fails(f"http://127.0.0.1:{port}/")


def test_delete_removes_everything_owned_and_twice_is_fine(deployer, suffix, hook_env):
    web = deployer()
    claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
             "metadata": {"name": f"data-{suffix}"},
             "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}
    app = pod(f"app-{suffix}", "echo kept > /data/file; exec sleep 600")
    app["spec"]["containers"][0]["volumeMounts"] = [{"name": "data", "mountPath": "/data"},
                                                    {"name": "scratch", "mountPath": "/scratch"}]
    app["spec"]["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": f"data-{suffix}"}},
                              {"name": "scratch", "emptyDir": {}}]
    assert web.run(dump(claim, app))["deploy_status_code"] == 0
    volume = podman_json("volume", "inspect", f"data-{suffix}", env=hook_env)[0]
    assert volume["Labels"]["kubectl.heat.openstack.org/deployment"] == web.key
    scratch = f"pod-app-{suffix}-scratch"  # the emptyDir, named apart per pod
    assert podman("volume", "exists", scratch, env=hook_env).returncode == 0

    kept = web.run(action="DELETE")
    assert kept["deploy_status_code"] == 0, kept
    assert f"Pod/app-{suffix}: deleted" in kept["deploy_stdout"]
    assert "kept" in kept["deploy_stdout"] and "delete_volumes" in kept["deploy_stdout"]
    assert web.pods() == []
    assert podman("container", "exists", f"app-{suffix}-main", env=hook_env).returncode == 1
    assert podman("volume", "exists", f"data-{suffix}", env=hook_env).returncode == 0
    assert podman("volume", "exists", scratch, env=hook_env).returncode == 1

    removed = web.run(action="DELETE", options={"delete_volumes": True})
    assert removed["deploy_status_code"] == 0, removed
    assert podman("volume", "exists", f"data-{suffix}", env=hook_env).returncode == 1

    again = web.run(action="DELETE")
    assert again["deploy_status_code"] == 0, again
    assert "nothing to delete" in again["deploy_stdout"]
    assert os.listdir(os.path.join(hook_env["HEAT_KUBECTL_WORKDIR"], "podman")) == []


def test_suspend_stops_and_resume_starts_and_waits(deployer, suffix):
    web = deployer()
    port = free_port()
    config = dump(pod(f"sr-{suffix}", web_command("awake"), port,
                      probe={"httpGet": {"path": "/", "port": 8080}}))
    assert web.run(config)["deploy_status_code"] == 0

    suspended = web.run(config, action="SUSPEND")
    assert suspended["deploy_status_code"] == 0, suspended
    assert f"Pod/sr-{suffix}: stopped" in suspended["deploy_stdout"]
    assert web.pod(f"sr-{suffix}")["Status"] in ("Exited", "Stopped")
    assert fetch_fails(f"http://127.0.0.1:{port}/")

    resumed = web.run(config, action="RESUME")
    assert resumed["deploy_status_code"] == 0, resumed
    assert f"Pod/sr-{suffix}: started, ready" in resumed["deploy_stdout"]
    assert fetch(f"http://127.0.0.1:{port}/") == "awake\n"


def test_missing_image_fails_fast_and_leaves_nothing(deployer, suffix):
    web = deployer()
    image = f"localhost/no-such-image-{suffix}:1"
    started = time.monotonic()
    result = web.run(dump(pod(f"noimg-{suffix}", "sleep 600", image=image)))
    took = time.monotonic() - started

    assert result["deploy_status_code"] == 1
    assert f"image {image} (container main) not found on this node" in result["deploy_stderr"]
    assert took < 60, took
    assert web.pods() == []


def test_missing_image_with_pull_policy_never(deployer, suffix):
    web = deployer()
    image = f"localhost/no-such-image-{suffix}:1"
    manifest = pod(f"never-{suffix}", "sleep 600", image=image)
    manifest["spec"]["containers"][0]["imagePullPolicy"] = "Never"
    result = web.run(dump(manifest))
    assert result["deploy_status_code"] == 1
    assert "imagePullPolicy is Never" in result["deploy_stderr"]


def test_container_that_exits_1_fails_with_its_log(deployer, suffix):
    web = deployer()
    result = web.run(dump(pod(f"crash-{suffix}", "echo about to fail; exit 1", restart="Never")),
                     options={"timeout": 120})
    assert result["deploy_status_code"] == 1
    assert f"pod/crash-{suffix}: container main exited with code 1" in result["deploy_stderr"]
    assert "about to fail" in result["deploy_stderr"]
    assert f"Pod/crash-{suffix}: created, NOT READY" in result["deploy_stdout"]


def test_container_that_keeps_restarting_fails_early(deployer, suffix):
    web = deployer()
    started = time.monotonic()
    result = web.run(dump(pod(f"loop-{suffix}", "echo crashing; sleep 0.3; exit 3")),
                     options={"timeout": 120})
    assert result["deploy_status_code"] == 1
    # Seen between two restarts or after RESTART_LIMIT of them: both name the code.
    assert re.search(rf"pod/loop-{suffix}: container main (exited with code 3 \(restartPolicy "
                     rf"Always|keeps restarting: restarted \d+ times, last exit code 3)",
                     result["deploy_stderr"]), result["deploy_stderr"]
    assert "crashing" in result["deploy_stderr"]
    assert time.monotonic() - started < 60


def test_probe_that_never_passes_times_out(deployer, suffix):
    web = deployer()
    started = time.monotonic()
    result = web.run(dump(pod(f"probe-{suffix}", "exec sleep 600",
                              probe={"exec": {"command": ["test", "-f", "/never"]},
                                     "periodSeconds": 1})),
                     options={"timeout": 4})
    took = time.monotonic() - started
    assert result["deploy_status_code"] == 1
    stderr = result["deploy_stderr"]
    assert "timed out after 4s (options.timeout)" in stderr
    assert f"pod/probe-{suffix}: container main: readinessProbe exec" in stderr
    assert took < 40, took


def test_two_deployments_never_touch_each_other(deployer, suffix):
    first, second = deployer("First"), deployer("Second")
    port_a, port_b = free_port(), free_port()
    assert first.run(dump(pod(f"a-{suffix}", web_command("first"), port_a)))["deploy_status_code"] == 0
    assert second.run(dump(pod(f"b-{suffix}", web_command("second"), port_b)))["deploy_status_code"] == 0
    first_id = first.pod(f"a-{suffix}")["Id"]

    # A name clash is a conflict, not a takeover: nothing of First changes.
    clash = second.run(dump(pod(f"b-{suffix}", web_command("second"), port_b),
                            pod(f"a-{suffix}", web_command("stolen"), free_port())),
                       action="UPDATE")
    assert clash["deploy_status_code"] == 1
    assert (f"pod/a-{suffix}: a pod named a-{suffix} already exists on this node and belongs "
            "to another deployment") in clash["deploy_stderr"]
    assert "resource First" in clash["deploy_stderr"]
    assert first.pod(f"a-{suffix}")["Id"] == first_id
    assert fetch(f"http://127.0.0.1:{port_a}/") == "first\n"

    # Deleting Second leaves First running, and the other way round.
    assert second.run(action="DELETE")["deploy_status_code"] == 0
    assert second.pods() == []
    assert first.pod(f"a-{suffix}")["Id"] == first_id
    assert fetch(f"http://127.0.0.1:{port_a}/") == "first\n"


def test_pod_not_made_by_the_hook_is_a_conflict(deployer, suffix, hook_env):
    web = deployer()
    name = f"foreign-{suffix}"
    podman("pod", "create", "--name", name, env=hook_env, check=True)
    try:
        result = web.run(dump(pod(name, "exec sleep 600")))
        assert result["deploy_status_code"] == 1
        assert f"a pod named {name} already exists on this node and was not created by " \
               "heat-config-kubectl" in result["deploy_stderr"]
        assert podman("pod", "exists", name, env=hook_env).returncode == 0
        # DELETE never removes what it does not own.
        assert web.run(action="DELETE")["deploy_status_code"] == 0
        assert podman("pod", "exists", name, env=hook_env).returncode == 0
    finally:
        podman("pod", "rm", "--force", name, env=hook_env)


def test_secret_values_reach_containers_but_never_the_result(deployer, suffix, hook_env):
    web = deployer()
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": f"creds-{suffix}"},
              "stringData": {"password": SECRET}}
    app = pod(f"sec-{suffix}", "echo password is $PASSWORD; exec sleep 600")
    app["spec"]["containers"][0]["env"] = [
        {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": f"creds-{suffix}", "key": "password"}}}]
    app["spec"]["containers"][0]["volumeMounts"] = [{"name": "creds", "mountPath": "/creds"}]
    app["spec"]["volumes"] = [{"name": "creds", "secret": {"secretName": f"creds-{suffix}"}}]

    result = web.run(dump(secret, app), outputs=["result"])
    assert result["deploy_status_code"] == 0, result
    assert SECRET not in json.dumps(result)
    shown = podman("exec", f"sec-{suffix}-main", "cat", "/creds/password", env=hook_env)
    assert shown.stdout == SECRET
    assert f"password is {SECRET}" in podman("logs", f"sec-{suffix}-main", env=hook_env).stdout
    for root, _, files in os.walk(hook_env["HEAT_KUBECTL_WORKDIR"]):
        for name in files:
            if "secrets" not in root:
                assert SECRET not in open(os.path.join(root, name)).read()

    # A failing container whose log shows the secret: the log is redacted.
    app["spec"]["containers"][0]["command"][2] = "echo password is $PASSWORD; exit 1"
    app["spec"]["restartPolicy"] = "Never"
    failed = web.run(dump(secret, app), action="UPDATE")
    assert failed["deploy_status_code"] == 1
    assert "password is <redacted>" in failed["deploy_stderr"]
    assert SECRET not in json.dumps(failed)
    assert SECRET not in web.last_stderr


def test_kinds_it_cannot_run_are_refused_before_anything_runs(deployer, suffix):
    web = deployer()
    cronjob = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": f"nightly-{suffix}"},
               "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": {"spec": {
                   "restartPolicy": "Never", "containers": [{"name": "c", "image": IMAGE}]}}}}}}
    result = web.run(dump(pod(f"ok-{suffix}", "exec sleep 600"), cronjob))
    assert result["deploy_status_code"] == 1
    assert f"CronJob/nightly-{suffix}: the podman backend cannot run a CronJob" in result["deploy_stderr"]
    assert web.pods() == []


def test_backend_chosen_by_the_node_environment(deployer, suffix, hook_env):
    web = deployer()
    web.env = dict(hook_env, HEAT_KUBECTL_BACKEND="podman")
    config = dump(pod(f"env-{suffix}", "exec sleep 600"))
    deployment_options = {"backend": None}
    result = web.run(config, options=deployment_options)
    assert result["deploy_status_code"] == 0, result
    assert "on podman: done" in result["deploy_stdout"]


def test_reference_to_a_secret_not_in_the_config_is_refused(deployer, suffix):
    web = deployer()
    app = pod(f"ref-{suffix}", "exec sleep 600")
    app["spec"]["containers"][0]["env"] = [
        {"name": "X", "valueFrom": {"secretKeyRef": {"name": "elsewhere", "key": "x"}}}]
    result = web.run(dump(app))
    assert result["deploy_status_code"] == 1
    assert f"Pod/ref-{suffix} uses Secret/elsewhere, which is not in this deployment's config" \
        in result["deploy_stderr"]
    assert web.pods() == []


def test_dry_run_says_what_would_change_and_changes_nothing(deployer, suffix):
    web = deployer()
    first = pod(f"dry-{suffix}", "exec sleep 600")
    assert web.run(dump(first))["deploy_status_code"] == 0
    pod_id = web.pod(f"dry-{suffix}")["Id"]
    first["spec"]["containers"][0]["command"][2] = "exec sleep 700"
    result = web.run(dump(first, pod(f"new-{suffix}", "exec sleep 600")), action="UPDATE",
                     options={"dry_run": True})
    assert result["deploy_status_code"] == 0, result
    assert f"Pod/dry-{suffix}: would be configured" in result["deploy_stdout"]
    assert f"Pod/new-{suffix}: would be created" in result["deploy_stdout"]
    assert [p["Id"] for p in web.pods()] == [pod_id]


def test_a_container_podman_cannot_start_is_reported_and_removed(deployer, suffix):
    web = deployer()
    manifest = pod(f"badcmd-{suffix}", "unused")
    manifest["spec"]["containers"][0]["command"] = ["/no/such/program"]
    result = web.run(dump(manifest))
    assert result["deploy_status_code"] == 1
    assert f"pod/badcmd-{suffix}: podman kube play failed" in result["deploy_stderr"]
    assert "/no/such/program" in result["deploy_stderr"]
    assert web.pods() == []


def test_volume_data_survives_a_pod_replacement(deployer, suffix, hook_env):
    web = deployer()
    port = free_port()
    claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": f"keep-{suffix}"},
             "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}

    def config(command):
        app = pod(f"vol-{suffix}", command, port)
        app["spec"]["containers"][0]["volumeMounts"] = [{"name": "data", "mountPath": "/data"}]
        app["spec"]["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": f"keep-{suffix}"}}]
        return dump(claim, app)

    first = web.run(config("echo written-first > /data/index.html; exec httpd -f -p 8080 -h /data"))
    assert first["deploy_status_code"] == 0, first
    assert f"PersistentVolumeClaim/keep-{suffix}: created, ready" in first["deploy_stdout"]
    second = web.run(config("exec httpd -f -p 8080 -h /data"), action="UPDATE")
    assert second["deploy_status_code"] == 0, second
    assert f"PersistentVolumeClaim/keep-{suffix}: unchanged, ready" in second["deploy_stdout"]
    assert f"Pod/vol-{suffix}: configured, ready" in second["deploy_stdout"]
    assert fetch(f"http://127.0.0.1:{port}/") == "written-first\n"


def test_statefulset_and_job_run_as_pods(deployer, suffix, hook_env):
    web = deployer()
    port = free_port()
    db = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": f"db-{suffix}"},
          "spec": {"serviceName": "db", "selector": {"matchLabels": {"app": f"db-{suffix}"}},
                   "template": {"metadata": {"labels": {"app": f"db-{suffix}"}},
                                "spec": pod("x", "echo stored > /data/index.html; "
                                                 "exec httpd -f -p 8080 -h /data", port)["spec"]},
                   "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {
                       "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}}
    db["spec"]["template"]["spec"]["containers"][0]["volumeMounts"] = [{"name": "data", "mountPath": "/data"}]
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": f"migrate-{suffix}"},
           "spec": {"template": {"spec": {"containers": [
               {"name": "migrate", "image": IMAGE, "command": ["sh", "-c", "sleep 1; echo migrated"]}]}}}}
    outputs = {"done": f"job/migrate-{suffix}:{{.status.succeeded}}",
               "db_ready": f"statefulset/db-{suffix}:{{.status.readyReplicas}}"}

    result = web.run(dump(db, job), options={"outputs": outputs}, outputs=list(outputs))

    assert result["deploy_status_code"] == 0, result
    assert result["done"] == 1 and result["db_ready"] == 1
    stdout = result["deploy_stdout"]
    assert f"StatefulSet/db-{suffix}: created, ready" in stdout
    assert f"Job/migrate-{suffix}: created, ready" in stdout
    assert f"PersistentVolumeClaim/data-db-{suffix}-0: created" in stdout
    assert fetch(f"http://127.0.0.1:{port}/") == "stored\n"
    assert podman("logs", f"migrate-{suffix}-0-migrate", env=hook_env).stdout == "migrated\n"
    # Unchanged, the completed Job is not run again.
    again = web.run(dump(db, job), action="UPDATE")
    assert again["deploy_status_code"] == 0, again
    assert f"Job/migrate-{suffix}: unchanged, ready" in again["deploy_stdout"]


def test_a_failing_job_fails_the_deployment(deployer, suffix):
    web = deployer()
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": f"bad-{suffix}"},
           "spec": {"template": {"spec": {"containers": [
               {"name": "step", "image": IMAGE, "command": ["sh", "-c", "echo no database; exit 2"]}]}}}}
    result = web.run(dump(job))
    assert result["deploy_status_code"] == 1
    assert f"job/bad-{suffix}: container step exited with code 2" in result["deploy_stderr"]
    assert "no database" in result["deploy_stderr"]


def test_a_container_whose_command_ends_is_told_to_stay_in_the_foreground(deployer, suffix):
    web = deployer()
    result = web.run(dump(pod(f"brief-{suffix}", "echo started and left")), options={"namespace": "demo"})
    assert result["deploy_status_code"] == 1
    # Seen exited, or running again after RESTART_LIMIT restarts: both say why.
    assert re.search(rf"pod/brief-{suffix}: container main (exited with code 0 but must keep "
                     r"running|keeps restarting: restarted \d+ times, last exit code 0)",
                     result["deploy_stderr"]), result["deploy_stderr"]
    assert "does its command stay in the foreground?" in result["deploy_stderr"]
    assert "started and left" in result["deploy_stderr"]
    assert "namespaces (demo) are not used on podman" in result["deploy_stdout"]


def test_volume_not_made_by_the_hook_is_a_conflict(deployer, suffix, hook_env):
    web = deployer()
    name = f"foreign-vol-{suffix}"
    podman("volume", "create", name, env=hook_env, check=True)
    try:
        claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name},
                 "spec": {"accessModes": ["ReadWriteOnce"]}}
        result = web.run(dump(claim, pod(f"user-{suffix}", "exec sleep 600")))
        assert result["deploy_status_code"] == 1
        assert (f"PersistentVolumeClaim/{name}: a podman volume named {name} already exists and "
                "was not created by heat-config-kubectl") in result["deploy_stderr"]
        assert web.pods() == []
        assert web.run(action="DELETE", options={"delete_volumes": True})["deploy_status_code"] == 0
        assert podman("volume", "exists", name, env=hook_env).returncode == 0
    finally:
        podman("volume", "rm", "--force", name, env=hook_env)


def test_wait_false_returns_once_played(deployer, suffix):
    web = deployer()
    result = web.run(dump(pod(f"nowait-{suffix}", "exec sleep 600",
                              probe={"exec": {"command": ["test", "-f", "/never"]}})),
                     options={"wait": False, "timeout": 60})
    assert result["deploy_status_code"] == 0, result
    assert "options.wait is false: readiness was not checked" in result["deploy_stdout"]
    assert web.pod(f"nowait-{suffix}")["Status"] == "Running"


def test_outputs_on_a_kind_not_run_read_the_manifest_and_fail_on_status(deployer, suffix):
    web = deployer()
    ingress = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": f"in-{suffix}"},
               "spec": {"rules": [{"host": "example.org"}]}}
    config = dump(pod(f"app-{suffix}", "exec sleep 600"), ingress)
    host = web.run(config, options={"outputs": {"host": f"ingress/in-{suffix}:{{.spec.rules[0].host}}"}},
                   outputs=["host"])
    assert host["deploy_status_code"] == 0, host
    assert host["host"] == "example.org"
    assert f"Ingress/in-{suffix}: skipped (not run on podman)" in host["deploy_stdout"]

    address = f"ingress/in-{suffix}:{{.status.loadBalancer.ingress[0].ip}}"
    result = web.run(config, action="UPDATE", options={"outputs": {"ip": address}}, outputs=["ip"])
    assert result["deploy_status_code"] == 1
    assert f"output ip: {{.status.loadBalancer.ingress[0].ip}} matches nothing in ingress/in-{suffix}" \
        in result["deploy_stderr"]
    # What ran and why the Ingress has no live state stay in deploy_stdout.
    assert f"note: Ingress/in-{suffix}: not run on podman" in result["deploy_stdout"]
    assert f"Pod/app-{suffix}: unchanged, ready" in result["deploy_stdout"]
