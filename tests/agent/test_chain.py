"""hooks/kubectl inside the real heat-config agent chain.

os-collect-config -> os-refresh-config -> 20-os-apply-config / 55-heat-config
-> hooks/kubectl -> heat-config-notify -> Heat (a server on 127.0.0.1), with
every script taken from PyPI (heat-agents' from its sdist, at test time).
"""

import base64
import json
import os
import re
import subprocess
import uuid

import pytest

from tests.agent import deployments as D
from tests.agent.chain import Node
from tests.agent.pods import container_command, pod_config, podman_deployment, pods_of, serve

FAILING_TRANSPORTS = [t for t in D.TRANSPORTS if t != "NO_SIGNAL"]
CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {a: b}\n"
# A user error the hook must report, naming the field.
BAD_TIMEOUT = {"timeout": "soon"}
BAD_TIMEOUT_REASON = "options.timeout: must be a number, got 'soon'"


def chain_logs(proc) -> str:
    """Everything the chain logged, with 55-heat-config's base64 `!!binary`
    dumps of hook stdout decoded, so a leak cannot hide in them."""
    text = proc.stdout + proc.stderr
    decoded = []
    for block in re.findall(r"!!binary \|\n((?:[ \t]+[A-Za-z0-9+/=]+\n)+)", text):
        decoded.append(base64.b64decode("".join(block.split())).decode("utf-8", "replace"))
    return "\n".join([text] + decoded)


def run_chain(node, metadata, collector="local"):
    if collector == "local":
        node.write_local_metadata(metadata)
    else:
        node.heat.set_metadata({"deployments": metadata})
    proc = node.collect(collector)
    assert proc.returncode == 0, f"the agent chain failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


def one_signal(heat, transport, dep):
    (request,) = heat.signals()
    assert request.path == D.expected_path(heat, transport, dep)
    return request, D.signal_data(request)


# --- every transport, a failing deployment --------------------------------------

@pytest.mark.parametrize("transport", FAILING_TRANSPORTS)
def test_failed_deployment_reaches_heat_with_status_and_reason(node, heat, transport):
    dep = D.deployment(heat, transport, CONFIGMAP, config_id=f"fail-{uuid.uuid4().hex[:8]}",
                       options=BAD_TIMEOUT,
                       outputs=[{"name": "deploy_error", "type": "String", "error_output": True}])
    proc = run_chain(node, [dep])

    request, signal = one_signal(heat, transport, dep)
    assert signal["deploy_status_code"] == 1
    assert BAD_TIMEOUT_REASON in signal["deploy_stderr"]
    # An error_output output is what makes Heat mark the deployment FAILED.
    assert BAD_TIMEOUT_REASON in signal["deploy_error"]
    expected_method = {"TEMP_URL_SIGNAL": "PUT"}.get(transport, "POST")
    assert request.method == expected_method
    if transport in ("HEAT_SIGNAL", "ZAQAR_SIGNAL"):
        assert request.headers.get("X-Auth-Token") == heat.token
    # 55-heat-config recorded the deployment before running the hook: never retried.
    assert node.deployed_files() == [f"{dep['id']}.json", f"{dep['id']}.notify.json"]
    assert node.notify_json(dep["id"]) == signal
    assert "Error running" in proc.stderr and "[1]" in proc.stderr


def test_no_signal_sends_nothing_to_heat(node, heat):
    dep = D.deployment(heat, "NO_SIGNAL", CONFIGMAP, config_id="nosig-1", options=BAD_TIMEOUT)
    run_chain(node, [dep])

    assert heat.requests == []
    # The result was still produced and handed to heat-config-notify.
    assert node.notify_json("nosig-1")["deploy_status_code"] == 1
    assert BAD_TIMEOUT_REASON in node.notify_json("nosig-1")["deploy_stderr"]


def test_request_collector_fetches_metadata_over_http(node, heat):
    dep = D.deployment(heat, "TEMP_URL_SIGNAL", CONFIGMAP, config_id="req-1", options=BAD_TIMEOUT)
    run_chain(node, [dep], collector="request")

    assert [r.method for r in heat.requests if r.path == "/metadata"] == ["HEAD", "GET"]
    _, signal = one_signal(heat, "TEMP_URL_SIGNAL", dep)
    assert signal["deploy_status_code"] == 1
    written = json.load(open(node.heat_config_path))
    assert [d["id"] for d in written] == ["req-1"]


def test_unchanged_metadata_does_not_run_the_hook_again(node, heat):
    dep = D.deployment(heat, "CFN_SIGNAL", CONFIGMAP, config_id="once-1", options=BAD_TIMEOUT)
    run_chain(node, [dep])
    assert len(heat.signals()) == 1

    # Same metadata: os-collect-config does not even run os-refresh-config.
    again = run_chain(node, [dep])
    assert "Starting phase configure" not in again.stderr
    # Forced: 55-heat-config runs, and skips the id it has deployed.
    forced = node.collect(force=True)
    assert forced.returncode == 0, forced.stderr
    assert "Starting phase configure" in forced.stderr
    assert "Skipping config once-1, already deployed" in forced.stderr
    assert len(heat.signals()) == 1


HOST_PATHS = ("/var/log/os-apply-config.log", "/var/lib/heat-config", "/var/lib/os-collect-config",
              "/var/run/os-collect-config", "/var/run/heat-config",
              "/var/run/os-refresh-config.lock", "/etc/os-collect-config.conf")


def _host_state():
    return {p: (os.stat(p).st_mtime_ns if os.path.exists(p) else None) for p in HOST_PATHS}


def test_chain_writes_nothing_under_the_hosts_var_or_etc(node, heat):
    before = _host_state()
    dep = D.deployment(heat, "CFN_SIGNAL", CONFIGMAP, config_id="where-1", options=BAD_TIMEOUT)
    run_chain(node, [dep])
    assert len(heat.signals()) == 1
    assert _host_state() == before
    # It all went to the node's directory instead.
    assert os.path.exists(node.heat_config_path)
    assert os.path.exists(os.path.join(node.root, "etc", "os-collect-config.conf"))
    assert os.path.exists(os.path.join(node.cachedir, "os_config_files.json"))
    if os.geteuid() == 0:  # os-apply-config logs to /var/log only as root
        assert os.path.exists(os.path.join(node.logdir, "os-apply-config.log"))


# --- the signal size limit ---------------------------------------------------

def test_result_over_notify_limit_is_trimmed_by_the_hook_and_delivered(node, heat, heat_agents):
    # An unknown option name of 1.2 million characters: the hook's error
    # message would carry it whole, a signal far over notify's 950,000.
    huge = "x" * 1_200_000
    dep = D.deployment(heat, "CFN_SIGNAL", CONFIGMAP, config_id="huge-1",
                       options={huge: 1},
                       outputs=[{"name": "deploy_error", "type": "String", "error_output": True}])
    run_chain(node, [dep])

    request, signal = one_signal(heat, "CFN_SIGNAL", dep)
    assert len(request.body) < 950_000
    assert signal["deploy_status_code"] == 1
    assert "unknown option" in signal["deploy_stderr"]
    assert "trimmed" in signal["deploy_stderr"] + signal["deploy_error"]


def test_notify_itself_fails_on_an_untrimmed_oversized_signal(tmp_path, heat, heat_agents):
    """Why the hook must trim: the real heat-config-notify crashes on a
    signal over its limit and Heat never hears of the deployment."""
    dep = D.deployment(heat, "CFN_SIGNAL", CONFIGMAP, config_id="big-1")
    config = tmp_path / "big-1.json"
    config.write_text(json.dumps(dep))
    node = Node(tmp_path / "node", heat)
    oversized = {"deploy_stdout": "y" * 1_000_000, "deploy_stderr": "", "deploy_status_code": 0}
    proc = subprocess.run([node.notify, str(config)], input=json.dumps(oversized),
                          env=node.env, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert heat.signals() == []


# --- several deployments in one metadata set -----------------------------------

def test_several_deployments_run_in_name_order(node, heat):
    # Heat lists a server's deployments sorted by name; ids in another order.
    items = [("10_namespace", "c-id"), ("20_database", "b-id"), ("30_web", "a-id")]
    metadata = [
        D.deployment(heat, "CFN_SIGNAL", CONFIGMAP, config_id=config_id, name=name,
                     resource_name=name.split("_", 1)[1].title(),
                     options={"timeout": f"not-a-number-{name}"})
        for name, config_id in items]
    proc = run_chain(node, metadata)

    got = [D.signal_data(r) for r in heat.signals()]
    assert [r.path for r in heat.signals()] == [
        D.expected_path(heat, "CFN_SIGNAL", d) for d in metadata]
    for (name, _), signal in zip(items, got):
        assert f"not-a-number-{name}" in signal["deploy_stderr"]
    runs = re.findall(r"Running \S+/hooks/kubectl < \S+/deployed/(\S+)\.json", proc.stderr)
    assert runs == ["c-id", "b-id", "a-id"]


# --- secrets -------------------------------------------------------------------

@pytest.mark.parametrize("transport", ["HEAT_SIGNAL", "ZAQAR_SIGNAL"])
def test_deploy_password_reaches_only_keystone(node, heat, transport):
    # A mistake that makes the hook quote a value back: the value is the
    # password. It must be masked in the signal and in every log line.
    dep = D.deployment(heat, transport, CONFIGMAP, config_id="pw-1",
                       options={"timeout": D.PASSWORD})
    proc = run_chain(node, [dep])

    _, signal = one_signal(heat, transport, dep)
    assert signal["deploy_status_code"] == 1
    assert "options.timeout" in signal["deploy_stderr"]
    for request in heat.requests:
        if request.path == "/identity/v3/auth/tokens":
            continue  # the one place the password is meant to go
        assert D.PASSWORD.encode() not in request.body, request.path
    assert D.PASSWORD not in json.dumps(node.notify_json("pw-1"))
    assert D.PASSWORD not in chain_logs(proc)
    # heat-config-notify authenticated as the deployment's own user.
    (auth,) = [r.json()["auth"] for r in heat.requests if r.path == "/identity/v3/auth/tokens"]
    assert auth["identity"]["password"]["user"] == {"id": D.USER_ID, "password": D.PASSWORD}
    assert auth["scope"]["project"]["id"] == D.PROJECT_ID


# --- success paths: real containers through the podman backend -------------------

@pytest.fixture
def podman_node(tmp_path, heat, heat_agents, podman_backend):
    return Node(tmp_path / "podman-node", heat, env=podman_backend)


def test_create_update_delete_with_real_containers(podman_node, heat, identity):
    node = podman_node
    pod = f"chain-{uuid.uuid4().hex[:6]}"
    create = podman_deployment(heat, "CFN_SIGNAL", identity, "cfg-create",
                               config=pod_config(pod, serve("v1")))
    run_chain(node, [create])
    (signal,) = [D.signal_data(r) for r in heat.signals()]
    assert signal["deploy_status_code"] == 0, signal
    assert pod in signal["deploy_stdout"]
    assert pods_of(node.env, *identity) == [pod]
    assert "echo v1" in container_command(node.env, pod)

    # Heat's update: a new config id for the same (stack, resource).
    update = podman_deployment(heat, "CFN_SIGNAL", identity, "cfg-update", action="UPDATE",
                               config=pod_config(pod, serve("v2")))
    run_chain(node, [update])
    signal = D.signal_data(heat.signals()[-1])
    assert heat.signals()[-1].path == D.expected_path(heat, "CFN_SIGNAL", update)
    assert signal["deploy_status_code"] == 0, signal
    assert pods_of(node.env, *identity) == [pod]
    assert "echo v2" in container_command(node.env, pod)

    delete = podman_deployment(heat, "CFN_SIGNAL", identity, "cfg-delete", action="DELETE",
                               config=pod_config(pod, serve("v2")))
    run_chain(node, [delete])
    signal = D.signal_data(heat.signals()[-1])
    assert signal["deploy_status_code"] == 0, signal
    assert pods_of(node.env, *identity) == []
    assert len(heat.signals()) == 3


@pytest.mark.parametrize("transport", FAILING_TRANSPORTS)
def test_successful_deployment_over_each_transport(podman_node, heat, identity, transport):
    node = podman_node
    pod = f"chain-{uuid.uuid4().hex[:6]}"
    outputs = [{"name": "pod_name", "type": "String"},
               {"name": "deploy_error", "type": "String", "error_output": True}]
    create = podman_deployment(
        heat, transport, identity, f"ok-{uuid.uuid4().hex[:6]}",
        config=pod_config(pod, serve("v1")), outputs=outputs,
        options={"outputs": {"pod_name": f"pod/{pod}:{{.metadata.name}}"}})
    proc = run_chain(node, [create])

    _, signal = one_signal(heat, transport, create)
    assert signal["deploy_status_code"] == 0, signal
    assert signal["pod_name"] == pod
    assert "deploy_error" not in signal  # its presence would fail the deployment
    if transport in ("HEAT_SIGNAL", "ZAQAR_SIGNAL"):
        assert D.PASSWORD not in chain_logs(proc)
        assert all(D.PASSWORD.encode() not in r.body for r in heat.signals())


def test_delete_of_a_never_created_deployment_succeeds(podman_node, heat, identity):
    dep = podman_deployment(heat, "NO_SIGNAL", identity, "del-only", action="DELETE",
                            config=pod_config("never", ["true"]))
    run_chain(podman_node, [dep])
    assert heat.requests == []
    assert podman_node.notify_json("del-only")["deploy_status_code"] == 0


def test_hook_masks_a_secret_that_an_input_error_quotes():
    """The bug the chain test above found: an invalid deployment's error
    quoted the deploy_password back into deploy_stderr and the log."""
    from tests.conftest import run_hook
    dep = D.deployment(_NoHeat(), "HEAT_SIGNAL", CONFIGMAP, config_id="pw-2",
                       options={"timeout": D.PASSWORD})
    result, stderr, code = run_hook(dep)
    assert code == 1 and result["deploy_status_code"] == 1
    assert "options.timeout" in result["deploy_stderr"]
    assert D.PASSWORD not in json.dumps(result) and D.PASSWORD not in stderr


class _NoHeat:
    auth_url = "http://127.0.0.1:9/identity/v3"


def test_container_that_exits_fails_the_deployment_in_heat(podman_node, heat, identity):
    """A runtime failure, not an input error: the backend's reason reaches Heat."""
    pod = f"chain-{uuid.uuid4().hex[:6]}"
    dep = podman_deployment(
        heat, "TEMP_URL_SIGNAL", identity, f"exit-{uuid.uuid4().hex[:6]}",
        config=pod_config(pod, ["sh", "-c", "echo starting; exit 3"]),
        outputs=[{"name": "deploy_error", "type": "String", "error_output": True}],
        options={"timeout": 60})
    run_chain(podman_node, [dep])

    _, signal = one_signal(heat, "TEMP_URL_SIGNAL", dep)
    assert signal["deploy_status_code"] != 0, signal
    assert pod in signal["deploy_stdout"]
    assert signal["deploy_error"], signal
    assert "code 3" in signal["deploy_stderr"]  # the exit code and
    assert "starting" in signal["deploy_stderr"]  # the container's last log lines
