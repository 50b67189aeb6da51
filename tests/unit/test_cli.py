"""The contract: whatever arrives on stdin, exactly one JSON object leaves."""

import io
import json
import logging
import os
import signal
import subprocess
import sys
import time

import pytest

from hook_kubectl import cli, render
from tests.conftest import HOOK, make_deployment, run_hook

def fake_backend(apply):
    """A backend class whose apply is `apply(objects, deadline)`."""
    class Fake:
        name = "fake"
        config_format = "manifests"

        def __init__(self, dep):
            pass

        def check(self, objects):
            return []

    Fake.apply = staticmethod(apply)
    return Fake


POD = "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: a, image: x}]}\n"


@pytest.mark.parametrize("stdin,message", [
    ("", "no deployment on stdin"),
    ("{not json", "stdin is not valid JSON"),
    ("[1, 2]", "stdin must be a JSON object"),
    ("\"text\"", "stdin must be a JSON object"),
    (make_deployment(""), "config is missing or empty"),
    (make_deployment(POD, options={"colour": "blue"}), "options.colour: unknown option"),
    (make_deployment(POD, options={"backend": "swarm"}), "options.backend: unknown backend 'swarm'"),
    (make_deployment(POD, action="MIGRATE"), "deploy_action: unknown action 'MIGRATE'"),
    (make_deployment("kind: Pod\nmetadata: {name: a}\n", options={"backend": "podman"}),
     "object has no apiVersion"),
    (make_deployment(POD, options={"backend": "podman", "outputs": {"ip": "pod-a-ip"}}),
     "options.outputs.ip: 'pod-a-ip' is not 'kind/name[.namespace]:{.json.path}'"),
])
def test_malformed_input_gives_one_json_error(stdin, message):
    out, stderr, code = run_hook(stdin)
    assert out["deploy_status_code"] != 0 and code != 0
    assert message in out["deploy_stderr"]
    assert "Traceback" not in stderr  # a user error is not a crash
    assert set(out) == {"deploy_stdout", "deploy_stderr", "deploy_status_code"}


def test_missing_backend_library_is_a_clear_error(monkeypatch):
    import builtins
    real_import = builtins.__import__

    def no_kubernetes(name, *args, **kwargs):
        if name == "kubernetes" or name.startswith("kubernetes."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_kubernetes)
    for module in [m for m in sys.modules if m.startswith(("kubernetes", "hook_kubectl.backends.k"))]:
        monkeypatch.delitem(sys.modules, module)
    out = cli.run(json.dumps(make_deployment(POD)), {})
    assert out["deploy_status_code"] == 1
    assert "needs the Python package 'kubernetes'" in out["deploy_stderr"]


def test_declared_outputs_present_even_on_invalid_input():
    data = make_deployment(POD, options={"backend": "swarm"}, outputs=[
        {"name": "ip", "type": "String"}, {"name": "why", "error_output": True}])
    out, _, _ = run_hook(data)
    assert out["deploy_status_code"] == 1
    assert out["ip"] is None
    assert "unknown backend 'swarm'" in out["why"]


def test_backend_failure_fills_outputs_and_error_output(monkeypatch):
    from hook_kubectl.errors import BackendError

    def apply(objects, deadline):
        raise BackendError("Pod/a: image x not found")

    monkeypatch.setattr(cli.backends, "load", lambda name: fake_backend(apply))
    data = make_deployment(POD, outputs=[{"name": "ip"}, {"name": "why", "error_output": True}])
    out = cli.run(json.dumps(data), {})
    assert out["deploy_status_code"] == 1
    assert out["ip"] is None
    assert out["why"] == "Pod/a: image x not found"
    assert "CREATE TestDeployment (stack teststack) on kubernetes: FAILED" in out["deploy_stdout"]


def test_unexpected_exception_is_one_json_and_a_traceback(monkeypatch, capsys):
    def explode(*args, **kwargs):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(render, "render", explode)
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(make_deployment(POD, options={"backend": "podman"}))))
    code = cli.main()
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert code == 1 and out["deploy_status_code"] == 1
    assert out["deploy_stderr"] == "internal error in heat-config-kubectl: ZeroDivisionError: division by zero"
    assert "Traceback" in captured.err


def test_sigterm_still_prints_one_json():
    proc = subprocess.Popen([sys.executable, HOOK], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)  # blocked reading stdin
    proc.send_signal(signal.SIGTERM)
    stdout, _ = proc.communicate(timeout=20)
    out = json.loads(stdout)
    assert out["deploy_status_code"] == 1
    assert "terminated" in out["deploy_stderr"]


def test_runs_as_installed_console_script_and_module(tmp_path):
    data = json.dumps(make_deployment("{not yaml: [", options={"backend": "podman"}))
    commands = [[sys.executable, "-m", "hook_kubectl"]]
    script = os.path.join(os.path.dirname(sys.executable), "heat-config-kubectl")
    if os.path.exists(script):  # installed (tools/install-deps does: pip install -e)
        commands.append([script])
    for argv in commands:
        proc = subprocess.run(argv, input=data, capture_output=True, text=True, timeout=60)
        out = json.loads(proc.stdout)
        assert "config is not valid YAML" in out["deploy_stderr"]


def test_crash_report_masks_secrets(monkeypatch, capsys):
    config = ("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {pw: crash-secret-1}\n")
    data = make_deployment(config, options={"backend": "podman"}, inputs=[
        {"name": "db_password", "type": "String", "value": "input-secret-2"}])

    def explode(*args, **kwargs):
        raise RuntimeError("failed with crash-secret-1 and input-secret-2")

    monkeypatch.setattr(cli.backends, "load", lambda name: lambda dep: None)
    monkeypatch.setattr(cli, "_act", explode)
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(data)))
    assert cli.main() == 1
    captured = capsys.readouterr()
    assert "RuntimeError" in captured.out and "Traceback" in captured.err
    for secret in ("crash-secret-1", "input-secret-2"):
        assert secret not in captured.out and secret not in captured.err


def test_backend_log_lines_never_carry_secrets(monkeypatch, capsys):
    from hook_kubectl.backends.base import Outcome

    def apply(objects, deadline):
        cli.LOG.warning("server said: bad value %s for %s", "log-secret-3", "input-secret-4")
        return Outcome()

    config = "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {pw: log-secret-3}\n"
    data = make_deployment(config, inputs=[{"name": "api_token", "value": "input-secret-4"}])
    monkeypatch.setattr(cli.backends, "load", lambda name: fake_backend(apply))
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(data)))
    handler = logging.StreamHandler(sys.stderr)
    cli.LOG.addHandler(handler)  # pytest's own handlers would swallow it
    try:
        assert cli.main() == 0
    finally:
        cli.LOG.removeHandler(handler)
    err = capsys.readouterr().err
    assert "server said: bad value <redacted> for <redacted>" in err
    assert "log-secret-3" not in err and "input-secret-4" not in err
