"""Benchmarks: the hook against a named baseline, measured in the same run.

kubernetes (against tests/kubeapi on 127.0.0.1, same objects, same server):
  baseline "kubectl": `kubectl apply --server-side` then `kubectl wait
  --for=condition=Available` on the Deployments (what a user would script);
  the hook: CREATE through hooks/kubectl (apply, ownership, wait), then an
  UPDATE that changes nothing against a second `kubectl apply --server-side`.
  Also with 20 ms added to every request, as on a real network.
podman (real containers):
  baseline "podman kube play": play a one-container Pod and wait until running;
  the hook: CREATE of the same Pod through hooks/kubectl.

Each number is the median of --repeat runs; ratios are hook / baseline
(lower is better; 1.0 means as fast as the baseline).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import yaml  # noqa: E402

from tests import containers  # noqa: E402
from tests.conftest import HOOK, make_deployment  # noqa: E402
from tests.kubeapi import KubeAPI  # noqa: E402
from tests.kubeapi.kubectl import find_kubectl  # noqa: E402


def manifests(namespace: str, configmaps: int, deployments: int) -> list:
    objects = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}]
    for i in range(configmaps):
        objects.append({"apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {"name": f"cm-{i}", "namespace": namespace},
                        "data": {"key": f"value-{i}"}})
    for i in range(deployments):
        labels = {"app": f"web-{i}"}
        objects.append({"apiVersion": "apps/v1", "kind": "Deployment",
                        "metadata": {"name": f"web-{i}", "namespace": namespace},
                        "spec": {"replicas": 2, "selector": {"matchLabels": labels},
                                 "template": {"metadata": {"labels": labels}, "spec": {
                                     "containers": [{"name": "web", "image": "web:1"}]}}}})
        objects.append({"apiVersion": "v1", "kind": "Service",
                        "metadata": {"name": f"web-{i}", "namespace": namespace},
                        "spec": {"selector": labels, "ports": [{"port": 80}]}})
    return objects


def timed(argv, **kwargs) -> float:
    started = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, **kwargs)
    took = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"bench: {argv[0]} failed: {proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return took


def hook(deployment: dict, env=None) -> float:
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, HOOK], input=json.dumps(deployment),
                          capture_output=True, text=True, env=env)
    took = time.perf_counter() - started
    result = json.loads(proc.stdout)
    if result["deploy_status_code"] != 0:
        raise SystemExit(f"bench: hook failed: {result['deploy_stderr'][-2000:]}")
    return took


def bench_kubernetes(api: KubeAPI, kubectl: str, args, tmp: str, label: str) -> list:
    rows = []
    kc = api.kubeconfig_path
    base, ours, base_noop, ours_noop, base_req, ours_req = [], [], [], [], [], []
    for run in range(args.repeat):
        ns_base, ns_hook = f"base-{run}-{uuid.uuid4().hex[:6]}", f"hook-{run}-{uuid.uuid4().hex[:6]}"
        path = os.path.join(tmp, f"{ns_base}.yaml")
        with open(path, "w") as f:
            yaml.safe_dump_all(manifests(ns_base, args.configmaps, args.deployments), f)
        api.requests.clear()
        t = timed([kubectl, "--kubeconfig", kc, "apply", "--server-side", "-f", path])
        t += timed([kubectl, "--kubeconfig", kc, "wait", "-n", ns_base, "--for=condition=Available",
                    "deployment", "--all", "--timeout=300s"])
        base.append(t)
        base_req.append(sum(api.requests.counts().values()))
        base_noop.append(timed([kubectl, "--kubeconfig", kc, "apply", "--server-side", "-f", path]))

        deployment = make_deployment(manifests(ns_hook, args.configmaps, args.deployments),
                                     options={"backend": "kubernetes", "kubeconfig": kc},
                                     resource_name=f"Bench{run}")
        api.requests.clear()
        ours.append(hook(deployment))
        ours_req.append(sum(api.requests.counts().values()))
        deployment = make_deployment(deployment["config"], action="UPDATE",
                                     options=deployment["options"], resource_name=f"Bench{run}")
        ours_noop.append(hook(deployment))
    n = 1 + args.configmaps + 2 * args.deployments
    rows.append((f"kubernetes{label}: create+wait {n} objects", "kubectl apply --server-side + kubectl wait",
                 statistics.median(base), statistics.median(ours)))
    rows.append((f"kubernetes{label}: unchanged re-apply", "kubectl apply --server-side",
                 statistics.median(base_noop), statistics.median(ours_noop)))
    print(f"  requests{label}: kubectl {statistics.median(base_req):.0f}, "
          f"hook {statistics.median(ours_req):.0f} (create+wait, median)", flush=True)
    return rows


def bench_podman(args, tmp: str) -> list:
    env = containers.environ(tmp)
    env["HEAT_KUBECTL_WORKDIR"] = os.path.join(tmp, "state")
    containers.build_image(env)
    base, ours = [], []
    for run in range(args.repeat):
        name = f"bench-{uuid.uuid4().hex[:8]}"
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
               "spec": {"containers": [{"name": "c", "image": containers.IMAGE,
                                        "command": ["/bin/sleep", "3600"]}]}}
        path = os.path.join(tmp, f"{name}.yaml")
        with open(path, "w") as f:
            yaml.safe_dump(pod, f)
        base.append(timed(["podman", "kube", "play", "--start", path], env=env))
        subprocess.run(["podman", "pod", "rm", "-f", "-t", "0", name], env=env, capture_output=True)
        deployment = make_deployment([pod], options={"backend": "podman"},
                                     resource_name=f"BenchPodman{run}")
        ours.append(hook(deployment, env))
        deployment["inputs"] = [dict(i, value="DELETE") if i["name"] == "deploy_action" else i
                                for i in deployment["inputs"]]
        hook(deployment, env)
    return [("podman: create one Pod, running", "podman kube play",
             statistics.median(base), statistics.median(ours))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--configmaps", type=int, default=100)
    parser.add_argument("--deployments", type=int, default=10)
    parser.add_argument("--skip-podman", action="store_true")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="heat-kubectl-bench-") as tmp:
        kubectl = find_kubectl()
        with KubeAPI() as api:
            print("kubernetes (tests/kubeapi on 127.0.0.1) ...", flush=True)
            rows += bench_kubernetes(api, kubectl, args, tmp, "")
            api.faults.add("latency", seconds=0.02)
            rows += bench_kubernetes(api, kubectl, args, tmp, " +20ms/request")
            api.faults.clear()
        if not args.skip_podman:
            print("podman (real containers) ...", flush=True)
            rows += bench_podman(args, tmp)
    print(f"\n{'benchmark':48} {'baseline':45} {'base s':>8} {'hook s':>8} {'ratio':>6}")
    for what, baseline, b, h in rows:
        print(f"{what:48} {baseline:45} {b:8.2f} {h:8.2f} {h / b:6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
