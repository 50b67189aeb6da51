"""Start-up time, 1,000 objects without slowing down, and the command line."""

import json
import os
import statistics
import subprocess
import sys
import time

import yaml
from kubernetes import client as k8s, config

from tests.kubeapi import KubeAPI

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_starts_in_under_a_second():
    start = time.perf_counter()
    api = KubeAPI().start()
    elapsed = time.perf_counter() - start
    try:
        core = k8s.CoreV1Api(config.new_client_from_config(config_file=api.kubeconfig_path))
        assert [n.metadata.name for n in core.list_namespace().items] == \
            ["default", "kube-node-lease", "kube-public", "kube-system"]
        ready = time.perf_counter() - start
    finally:
        api.stop()
    print(f"\nkubeapi start: {elapsed * 1000:.1f} ms (first answered request after {ready * 1000:.1f} ms)")
    assert elapsed < 1.0


def _median_get(core, name, n=40):
    times = []
    for _ in range(n):
        t = time.perf_counter()
        core.read_namespaced_config_map(name, "default")
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def test_serves_1000_objects_without_slowing_down(api, client):
    core = k8s.CoreV1Api(client)
    create_times = []
    for i in range(1000):
        t = time.perf_counter()
        core.create_namespaced_config_map("default", {"metadata": {"name": f"cm-{i:04d}", "labels": {
            "group": str(i % 10)}}, "data": {"value": str(i)}})
        create_times.append(time.perf_counter() - t)
        if i == 9:
            get_at_10 = _median_get(core, "cm-0005")
    get_at_1000 = _median_get(core, "cm-0500")
    first, last = statistics.mean(create_times[:100]), statistics.mean(create_times[-100:])
    t = time.perf_counter()
    listed = core.list_namespaced_config_map("default", label_selector="group")
    list_time = time.perf_counter() - t
    t = time.perf_counter()
    selected = core.list_namespaced_config_map("default", label_selector="group=3")
    select_time = time.perf_counter() - t
    print(f"\n1000 objects: create first100 {first * 1000:.2f} ms, last100 {last * 1000:.2f} ms; "
          f"get median at 10 objects {get_at_10 * 1000:.2f} ms, at 1000 {get_at_1000 * 1000:.2f} ms; "
          f"list all {list_time * 1000:.0f} ms; list with selector {select_time * 1000:.0f} ms")
    assert len(listed.items) == 1000 and len(selected.items) == 100
    assert last < first * 3 + 0.002
    assert get_at_1000 < get_at_10 * 3 + 0.002
    assert list_time < 2.0


def test_command_line_serves_until_killed(tmp_path, kubectl_path):
    kubeconfig = tmp_path / "kc.yaml"
    proc = subprocess.Popen([sys.executable, "-m", "tests.kubeapi", "--port", "0", "--kubeconfig",
                             str(kubeconfig), "--nodes", "2", "--delay", "pod_start=0.01"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("serving https://127.0.0.1:"), line + proc.stderr.read()
        server = yaml.safe_load(kubeconfig.read_text())["clusters"][0]["cluster"]["server"]
        assert line.split()[1] == server
        out = subprocess.run([kubectl_path, "--kubeconfig", str(kubeconfig), "get", "nodes", "-o", "name"],
                             capture_output=True, text=True, timeout=30, env={"HOME": str(tmp_path)})
        assert out.returncode == 0, out.stderr
        assert out.stdout.split() == ["node/node-1", "node/node-2"]
    finally:
        proc.terminate()
        assert proc.wait(10) == 0
    bad = subprocess.run([sys.executable, "-m", "tests.kubeapi", "--kubeconfig", str(kubeconfig),
                          "--delay", "nonsense=1"], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert bad.returncode == 2 and "--delay: unknown name 'nonsense'" in bad.stderr


def test_command_line_server_is_controlled_over_http(tmp_path, kubectl_path):
    kubeconfig = tmp_path / "kc.yaml"
    proc = subprocess.Popen([sys.executable, "-m", "tests.kubeapi", "--kubeconfig", str(kubeconfig)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().startswith("serving ")
        api_client = config.new_client_from_config(config_file=str(kubeconfig))
        core = k8s.CoreV1Api(api_client)

        token = yaml.safe_load(kubeconfig.read_text())["users"][0]["user"]["token"]

        def call(method, path, body=None):
            resp = api_client.rest_client.pool_manager.request(
                method, api_client.configuration.host + path, body=json.dumps(body) if body else None,
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
            assert resp.status < 300, resp.data
            return json.loads(resp.data)
        call("POST", "/_kubeapi/faults", {"action": "error", "code": 500, "verb": "list",
                                          "resource": "namespaces", "times": 1})
        try:
            core.list_namespace()
            raise AssertionError("the injected 500 did not happen")
        except k8s.ApiException as exc:
            assert exc.status == 500
        assert len(core.list_namespace().items) == 4
        counts = {(c["verb"], c["resource"]): c["count"] for c in call("GET", "/_kubeapi/requests")["counts"]}
        assert counts[("list", "namespaces")] == 2
        out = subprocess.run([kubectl_path, "--kubeconfig", str(kubeconfig), "get", "--raw", "/_kubeapi/requests"],
                             capture_output=True, text=True, timeout=30, env={"HOME": str(tmp_path)})
        assert out.returncode == 0 and '"counts"' in out.stdout
        core.create_namespaced_config_map("default", {"metadata": {"name": "before-restart"}})
        call("POST", "/_kubeapi/restart?keep_state=false")
        deadline = time.time() + 10
        while True:          # the server restarts on the same port, empty
            try:
                names = [c.metadata.name for c in core.list_namespaced_config_map("default").items]
                if "before-restart" not in names:
                    break
            except Exception:   # connections dropped while it restarts
                pass
            assert time.time() < deadline, "the server did not restart empty"
            time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(10)


def test_the_api_doc_lists_every_delay_with_its_default():
    import dataclasses
    import re

    import tests.kubeapi as kubeapi
    from tests.kubeapi.controllers import Delays
    text = " ".join(kubeapi.__doc__.split("Delays (seconds; defaults):", 1)[1].split("\n\n", 1)[0].split())
    documented = {name: float(value) for name, value in re.findall(r"([a-z_]+) ([0-9]+(?:\.[0-9]+)?)", text)}
    assert documented == {f.name: f.default for f in dataclasses.fields(Delays)}
