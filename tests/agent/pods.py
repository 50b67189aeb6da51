"""Real podman pods for the chain's success paths (podman backend)."""

import json
import subprocess

from tests.agent import deployments as D


def serve(version):
    """A container command that runs until stopped and stops at once on SIGTERM."""
    return ["sh", "-c", f"echo {version}; trap 'exit 0' TERM; while :; do sleep 1; done"]


def pod_config(name, command):
    return (
        "apiVersion: v1\nkind: Pod\n"
        f"metadata: {{name: {name}}}\n"
        "spec:\n  containers:\n  - name: main\n"
        "    image: localhost/heat-kubectl-busybox:test\n"
        f"    command: {json.dumps(command)}\n")


def identity_filter(stack_id, resource_name):
    from hook_kubectl.deployment import LABEL_PREFIX, Identity
    return f"label={LABEL_PREFIX}/deployment={Identity(stack_id, resource_name).key}"


def pods_of(env, stack_id, resource_name):
    """Names of the podman pods carrying this deployment's identity label."""
    proc = subprocess.run(
        ["podman", "pod", "ps", "--filter", identity_filter(stack_id, resource_name),
         "--format", "{{.Name}}"],
        env=env, capture_output=True, text=True, check=True)
    return sorted(proc.stdout.split())


def remove_pods_of(env, stack_id, resource_name):
    """Remove only this deployment's pods (podman is shared with other tests)."""
    listed = subprocess.run(
        ["podman", "pod", "ps", "-q", "--filter", identity_filter(stack_id, resource_name)],
        env=env, capture_output=True, text=True)
    pods = listed.stdout.split()
    if pods:
        subprocess.run(["podman", "pod", "rm", "-f", "-t", "0", *pods],
                       env=env, capture_output=True)


def container_command(env, pod):
    """The command line of the pod's container `main` (kube play names it <pod>-main)."""
    proc = subprocess.run(
        ["podman", "container", "inspect", f"{pod}-main", "--format", "{{.Path}} {{.Args}}"],
        env=env, capture_output=True, text=True, check=True)
    return proc.stdout


def podman_deployment(heat, transport, identity, config_id, action="CREATE", config="",
                      outputs=None, options=None):
    stack_id, resource_name = identity
    dep = D.deployment(heat, transport, config, config_id=config_id, action=action,
                       stack_id=stack_id, resource_name=resource_name,
                       options=dict({"backend": "podman", "timeout": 120}, **(options or {})),
                       outputs=outputs)
    return dep
