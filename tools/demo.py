"""The quick start: a Heat SoftwareDeployment run through hooks/kubectl on
podman, as the heat-config agent would run it, then removed with DELETE."""

import json
import os
import socket
import subprocess
import sys
import tempfile
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tests import containers  # noqa: E402  (the busybox image: no registry needed)

HOOK = os.path.join(ROOT, "hooks", "kubectl")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_hook(deployment: dict, action: str, env: dict) -> dict:
    for item in deployment["inputs"]:
        if item["name"] == "deploy_action":
            item["value"] = action
    print(f"\n$ hooks/kubectl < deployment.json   # deploy_action={action}", flush=True)
    proc = subprocess.run([HOOK], input=json.dumps(deployment), capture_output=True,
                          text=True, env=env, timeout=300)
    result = json.loads(proc.stdout)
    print(json.dumps(result, indent=2))
    return result


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="heat-kubectl-demo-") as tmp:
        env = containers.environ(tmp)
        env["HEAT_KUBECTL_WORKDIR"] = os.path.join(tmp, "state")
        print(f"building {containers.IMAGE} from Debian's busybox-static ...", flush=True)
        containers.build_image(env)
        with open(os.path.join(ROOT, "tools", "demo-deployment.json")) as f:
            deployment = json.load(f)
        port = free_port()
        for item in deployment["inputs"]:
            if item["name"] == "port":
                item["value"] = str(port)

        created = run_hook(deployment, "CREATE", env)
        failed = created["deploy_status_code"] != 0
        if not failed:
            url = f"http://127.0.0.1:{created['web_port']}/"
            body = urllib.request.urlopen(url, timeout=10).read().decode()
            print(f"\n$ curl {url}\n{body}", end="")
        deleted = run_hook(deployment, "DELETE", env)
        left = subprocess.run(
            ["podman", "pod", "ps", "-q", "--filter",
             "label=app.kubernetes.io/managed-by=heat-config-kubectl",
             "--filter", "label=kubectl.heat.openstack.org/workload=deployment.demo-web"],
            capture_output=True, text=True, env=env).stdout.split()
        print(f"\npods left after DELETE: {len(left)}")
        ok = not failed and deleted["deploy_status_code"] == 0 and not left
        print("demo: OK" if ok else "demo: FAILED")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
