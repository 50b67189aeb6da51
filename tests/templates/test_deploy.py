"""Every example, created as Heat would create it, through hooks/kubectl:
on podman for real (environments/single-node.yaml) and on tests/kubeapi
(environments/cluster.yaml), in Heat's dependency order, each deployment
given what get_attr reads from the ones before it; then deleted."""

import ipaddress
import os
import socket
import urllib.request
import uuid

import pytest

from tests.conftest import run_hook
from tests.templates.conftest import ENVIRONMENTS, TEMPLATES
from tests.templates.heat_run import StackRun

EXAMPLES = os.path.join(TEMPLATES, "examples")
FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
SERVER = "5a1e0c3b-0000-4000-8000-000000000001"


def free_port() -> int:
    """A port free on this node now: podman 4.3 publishes container ports."""
    with socket.socket() as sock:
        sock.bind(("0.0.0.0", 0))
        return sock.getsockname()[1]


# Unique names and free ports per test (podman is shared with other tests).
PARAMS = {
    "single-service": lambda s: {"app_name": f"web-{s}", "port": free_port()},
    "two-services": lambda s: {"db_name": f"db-{s}", "api_name": f"api-{s}",
                               "db_port": free_port(), "api_port": free_port()},
    # One server per group: each server is a node of its own, and this
    # machine is one node (two members would run the same pod name here).
    "node-group": lambda s: {"collector_name": f"collector-{s}", "agent_name": f"agent-{s}",
                             "collector_port": free_port(),
                             "servers": {"node-0": "5a1e0c3b-0000-4000-8000-00000000000a"}},
    "tripleo-role": lambda s: {"role_name": f"r{s}", "collector_port": free_port(),
                               "role_servers": {"compute-0": "5a1e0c3b-0000-4000-8000-00000000000b"}},
    "crd": lambda s: {"backup_name": f"nightly-{s}"},
    "controller-cluster": lambda s: {"app_name": f"web-{s}", "port": free_port()},
}


@pytest.fixture
def kubeapi():
    from tests.kubeapi import KubeAPI
    with KubeAPI() as api:
        yield api


@pytest.fixture
def hook_env(podman_env, tmp_path):
    env = dict(podman_env)
    env["HEAT_KUBECTL_WORKDIR"] = str(tmp_path / "work")
    env.pop("HEAT_KUBECTL_BACKEND", None)
    env.pop("KUBECONFIG", None)
    return env


@pytest.fixture
def stacks(kubeapi, hook_env):
    """Make StackRuns; every deployment they created is DELETEd at the end
    (before the API server and the podman environment go), and the DELETEs
    must succeed (nothing left behind)."""
    made = []

    def make(*args, **kwargs):
        run = StackRun(*args, **kwargs)
        made.append(run)
        return run

    yield make
    failures = []
    for run in reversed(made):
        failures.extend(run.delete())
    assert not failures, f"DELETE failed: {failures}"
    for run in made:
        assert all(s["deploy_status_code"] == 0 for s in run.signals("DELETE").values())


def _stack(stacks, example, environment, hook_env, kubeapi, image, extra=None):
    suffix = uuid.uuid4().hex[:6]
    params = {**PARAMS[example](suffix), **(extra or {})}
    params["controller" if example == "controller-cluster" else "server"] = SERVER
    if example != "crd":
        params["image"] = image
    defaults = {"kubeconfig": kubeapi.kubeconfig_path} if environment == "cluster" else {}
    return stacks(os.path.join(EXAMPLES, f"{example}.yaml"), [ENVIRONMENTS[environment]],
                  params, run_hook, hook_env, parameter_defaults=defaults), params


def _http_get(ip: str, port: int) -> str:
    with urllib.request.urlopen(f"http://{ip}:{port}/index.html", timeout=10) as page:
        return page.read().decode()


def _check_common(run, outputs):
    """Each deployment signalled success with every output it declared, and
    every stack output has a value."""
    signals = run.signals()
    assert signals, "no deployment ran"
    for path, item in run.items().items():
        signal = signals[path]
        assert signal["deploy_status_code"] == 0, (path, signal)
        declared = {o["name"] for o in item["outputs"] if not o.get("error_output")}
        assert declared <= set(signal), (path, declared - set(signal))
        assert all(signal[name] is not None for name in declared), (path, signal)
    assert outputs and all(value is not None for value in outputs.values()), outputs


def _order(run):
    return [path for path in run.signals()]


def check_single_service(run, outputs, params, environment, kubeapi):
    ip = outputs["web_cluster_ip"]
    ipaddress.ip_address(ip)
    name = params["app_name"]
    assert any(ref.startswith("Service/") and ref.endswith(f"/{name}")
               for ref in outputs["web_objects"]), outputs["web_objects"]
    if environment == "cluster":
        assert kubeapi.get("services", name, "default")["spec"]["clusterIP"] == ip
        assert kubeapi.get("deployments", name, "default")["spec"]["replicas"] == 2
    else:  # the Service's address is the pod's: it really serves there
        assert "hello from heat-config-kubectl" in _http_get(ip, params["port"])


def check_two_services(run, outputs, params, environment, kubeapi):
    order = _order(run)
    assert order == ["example-db.deployment", "example-api.deployment"], order
    db_host = run.signals()["example-db.deployment"]["db_host"]
    # get_attr [db, outputs, db_host] reached the API's deployment as an input...
    api_inputs = {i["name"]: i["value"] for i in run.items()["example-api.deployment"]["inputs"]}
    assert api_inputs["db_host"] == db_host
    # ...and the API's objects hold it.
    assert outputs["db_host"] == db_host
    if environment == "cluster":
        settings = kubeapi.get("configmaps", f"{params['api_name']}-settings", "default")
        assert settings["data"]["DB_HOST"] == db_host
    else:
        assert _http_get(outputs["api_ip"], params["api_port"]).strip() == (
            f"db is {db_host}:{params['db_port']}")


def check_node_group(run, outputs, params, environment, kubeapi):
    order = _order(run)
    assert order == ["example-collector.deployment", "example-agents.node-0"], order
    collector = outputs["collector_address"]
    agent_inputs = {i["name"]: i["value"] for i in run.items()["example-agents.node-0"]["inputs"]}
    assert agent_inputs["collector"] == collector
    assert agent_inputs["deploy_resource_name"] == "node-0"
    assert agent_inputs["deploy_server_id"] == params["servers"]["node-0"]
    assert outputs["agents"] == {"node-0": {"agent_pod": "Running"}}
    assert "node-0" in outputs["agents_stdout"]
    # The per-node agent runs on the server itself in both environments.
    assert "on podman" in outputs["agents_stdout"]["node-0"]


def check_tripleo_role(run, outputs, params, environment, kubeapi):
    order = _order(run)
    assert order == ["example-collector.deployment", "example-step1_logging.compute-0",
                     "example-step2_metrics.compute-0"], order
    assert outputs["step1"] == {"compute-0": {"pod": "Running"}}
    assert outputs["step2"] == {"compute-0": {"pod": "Running"}}
    role = params["role_name"]
    stdout = run.signals()["example-step2_metrics.compute-0"]["deploy_stdout"]
    assert f"Pod/{role}-metrics" in stdout


def check_crd(run, outputs, params, environment, kubeapi):
    assert outputs["backup_schedule"] == "0 3 * * *"
    name = params["backup_name"]
    if environment == "cluster":
        stored = kubeapi.get("backups", name, "default", group="example.org")
        assert stored["spec"] == {"schedule": "0 3 * * *", "target": "example"}
        crd = kubeapi.get("customresourcedefinitions", "backups.example.org")
        assert {"type": "Established", "status": "True"}.items() <= {
            k: v for c in crd["status"]["conditions"] if c["type"] == "Established"
            for k, v in c.items()}.items()
    else:
        # One node has no custom resources: said in deploy_stdout, not dropped.
        (signal,) = run.signals().values()
        assert "CustomResourceDefinition/backups.example.org: skipped (not run on podman)" in (
            signal["deploy_stdout"])
        assert f"Backup/{name}: skipped (not run on podman)" in signal["deploy_stdout"]


def check_controller_cluster(run, outputs, params, environment, kubeapi):
    ipaddress.ip_address(outputs["web_cluster_ip"])
    if environment == "cluster":
        assert outputs["backend"] == "kubernetes"
        # The cluster is checked (through the controller's kubeconfig) first.
        assert _order(run) == ["example-cluster-check.deployment", "example-web.deployment"]
        assert kubeapi.get("configmaps", "heat-cluster-check", "default") is not None
    else:
        assert outputs["backend"] == "podman"
        assert _order(run) == ["example-web.deployment"]


CHECKS = {
    "single-service": check_single_service,
    "two-services": check_two_services,
    "node-group": check_node_group,
    "tripleo-role": check_tripleo_role,
    "crd": check_crd,
    "controller-cluster": check_controller_cluster,
}


@pytest.mark.parametrize("environment", sorted(ENVIRONMENTS))
@pytest.mark.parametrize("example", sorted(PARAMS))
def test_example_deploys_in_order_through_the_hook(
        heat, stacks, example, environment, hook_env, kubeapi, busybox_image):
    run, params = _stack(stacks, example, environment, hook_env, kubeapi, busybox_image)
    outputs = run.create()
    _check_common(run, outputs)
    CHECKS[example](run, outputs, params, environment, kubeapi)


def test_heat_renders_the_deployment_inputs_the_agent_delivers(
        heat, stacks, hook_env, kubeapi, busybox_image):
    run, params = _stack(stacks, "single-service", "cluster", hook_env, kubeapi, busybox_image)
    run.create()
    (item,) = run.items().values()
    inputs = {i["name"]: i for i in item["inputs"]}
    assert item["group"] == "kubectl"
    assert item["options"]["backend"] == "kubernetes"
    assert item["options"]["kubeconfig"] == kubeapi.kubeconfig_path
    assert item["options"]["outputs"] == {"cluster_ip": "service/${name}:{.spec.clusterIP}"}
    # Heat's own deploy_* inputs, as its SoftwareDeployment builds them.
    assert inputs["deploy_server_id"]["value"] == SERVER
    assert inputs["deploy_action"]["value"] == "CREATE"
    assert inputs["deploy_resource_name"]["value"] == "deployment"
    stack_name, _, stack_uuid = inputs["deploy_stack_id"]["value"].partition("/")
    assert stack_name == "example-web" and uuid.UUID(stack_uuid)
    assert inputs["deploy_signal_transport"]["value"] == "CFN_SIGNAL"
    assert inputs["deploy_signal_verb"]["value"] == "POST"
    assert inputs["deploy_signal_id"]["value"].startswith("http://127.0.0.1")
    # Declared from their values: a number stays a number through the agent.
    assert inputs["replicas"]["type"] == "Number" and inputs["replicas"]["value"] == 2
    assert inputs["name"]["value"] == params["app_name"]
    assert {o["name"] for o in item["outputs"]} == {"cluster_ip", "applied", "result", "outputs", "failure"}


def test_string_inputs_are_read_back_after_the_agent_stringifies_them(
        heat, stacks, hook_env, kubeapi):
    name = f"labels-{uuid.uuid4().hex[:6]}"
    run = stacks(os.path.join(FIXTURES, "string-inputs.yaml"), [ENVIRONMENTS["cluster"]],
                 {"server": SERVER, "name": name}, run_hook, hook_env,
                 parameter_defaults={"kubeconfig": kubeapi.kubeconfig_path})
    outputs = run.create()
    (item,) = run.items().values()
    inputs = {i["name"]: i for i in item["inputs"]}
    # What 55-heat-config hands the hook: Python text, not a map or a number.
    assert inputs["labels"]["type"] == "String"
    assert inputs["labels"]["value"] == "{'tier': 'web', 'team': 'infra'}"
    assert inputs["replicas"]["value"] == "3"
    stored = kubeapi.get("configmaps", name, "default")
    assert {"tier": "web", "team": "infra"}.items() <= stored["metadata"]["labels"].items()
    assert stored["data"] == {"replicas": "3"}
    assert outputs["tier"] == "web"


def test_one_manifest_set_on_cluster_and_single_node(
        heat, stacks, hook_env, kubeapi, busybox_image):
    """Issue 5: the same template and manifests through both environment
    files: the same output names and a ready result from both."""
    runs = {}
    for environment in ("cluster", "single-node"):
        run, params = _stack(stacks, "single-service", environment, hook_env, kubeapi,
                             busybox_image)
        runs[environment] = (run, run.create(), params)

    (cluster, cluster_outputs, cparams), (single, single_outputs, sparams) = (
        runs["cluster"], runs["single-node"])
    assert set(cluster_outputs) == set(single_outputs) == {"web_cluster_ip", "web_objects"}
    (csignal,), (ssignal,) = cluster.signals().values(), single.signals().values()
    assert set(csignal) == set(ssignal)
    assert csignal["deploy_status_code"] == ssignal["deploy_status_code"] == 0
    assert "on kubernetes: done" in csignal["deploy_stdout"]
    assert "on podman: done" in ssignal["deploy_stdout"]
    cname, sname = cparams["app_name"], sparams["app_name"]
    assert csignal["result"][f"Deployment/{cname} in default"].endswith("ready (2/2 available)")
    assert ssignal["result"][f"Deployment/{sname}"].endswith("ready")
    # What one node cannot honour is said, not dropped.
    assert f"Deployment/{sname}: replicas 2 requested, podman runs 1 pod" in ssignal["deploy_stdout"]
    assert set(csignal["outputs"]) == set(ssignal["outputs"]) == {"cluster_ip"}


@pytest.mark.parametrize("environment", sorted(ENVIRONMENTS))
def test_suspend_and_resume_reach_the_hook(heat, stacks, environment, hook_env, kubeapi,
                                           busybox_image):
    """The provider's actions include SUSPEND and RESUME: Heat sends them,
    the hook stops the service and starts it again."""
    run, params = _stack(stacks, "single-service", environment, hook_env, kubeapi, busybox_image)
    outputs = run.create()
    name = params["app_name"]
    assert run.act("SUSPEND") == []
    (item,) = run.items("SUSPEND").values()
    assert {i["name"]: i["value"] for i in item["inputs"]}["deploy_action"] == "SUSPEND"
    if environment == "cluster":
        assert kubeapi.get("deployments", name, "default")["spec"]["replicas"] == 0
    else:
        with pytest.raises(OSError):
            _http_get(outputs["web_cluster_ip"], params["port"])
    assert run.act("RESUME") == []
    (signal,) = run.signals("RESUME").values()
    assert signal["deploy_status_code"] == 0, signal
    if environment == "cluster":
        assert kubeapi.get("deployments", name, "default")["spec"]["replicas"] == 2
    else:
        assert "hello from heat-config-kubectl" in _http_get(
            signal.get("cluster_ip") or outputs["web_cluster_ip"], params["port"])
