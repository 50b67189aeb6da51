"""The element's install phase, run by DIB's dib-run-parts in a chroot of a
minimal Debian bookworm tree, then a deployment run through the real
55-heat-config inside that tree with the hook the element installed,
against the test Kubernetes API server and the Heat stand-in on 127.0.0.1
(the chroot shares the host's network)."""

import json
import os
import shutil
import stat
import uuid

import pytest

from tests.agent import sdists
from tests.agent.heat_server import HeatServer
from tests.elements import dib, rootfs
from tests.elements.test_element import ELEMENT, elements_path

KUBECONFIG_IN_TREE = "/etc/kubernetes/admin.conf"  # not the default: shows DIB_ vars flow
PIP_CACHE = os.path.join(sdists.ROOT, ".cache", "pip-chroot")
HOOK = "/var/lib/heat-config/hooks/kubectl"


@pytest.fixture(scope="module", params=["source", "package"])
def tree(request, tmp_path_factory):
    """A bookworm tree after the element's install phase, for each install type."""
    install_type = request.param
    if os.geteuid() != 0:
        pytest.skip("a chroot needs root")
    missing = rootfs.missing_tools()
    if missing:
        pytest.fail(f"missing {', '.join(missing)}: run tools/install-deps")
    base = tmp_path_factory.mktemp("chroot")
    root = rootfs.unpack(base / "root")
    rootfs.copy_host_network_settings(root)

    hooks = dib.generate_hooks(
        str(base / "hooks"), [ELEMENT, os.path.join(dib.DIB, "elements", "install-types")])
    settings = {"DIB_HEAT_CONFIG_KUBECTL_KUBECONFIG": KUBECONFIG_IN_TREE,
                "DIB_INSTALLTYPE_heat_config_kubectl": install_type}
    agents = sdists.heat_agents()
    tie = os.path.join(sdists.tripleo_image_elements(), "elements")
    extra = dib.run_extra_data(hooks, ["debian-minimal", "heat-config-kubectl"],
                               elements_path(agents, tie), dict(os.environ, **settings))
    assert extra.returncode == 0, extra.stdout + extra.stderr

    os.makedirs(PIP_CACHE, exist_ok=True)
    install = rootfs.in_chroot(
        root, [f"{dib.IN_TARGET}/dib-run-parts", f"{dib.IN_TARGET}/install.d"],
        env=dict(rootfs.host_pip_env(), PIP_CACHE_DIR="/var/cache/pip-test", **settings),
        binds=[(hooks, dib.IN_TARGET, True), (PIP_CACHE, "/var/cache/pip-test", False)])
    yield {"root": root, "hooks": hooks, "extra": extra, "install": install,
           "agents": agents, "install_type": install_type}
    shutil.rmtree(base, ignore_errors=True)  # a few hundred MB per tree


def test_install_phase_runs_both_scripts(tree):
    install = tree["install"]
    assert install.returncode == 0, install.stdout[-5000:] + install.stderr[-5000:]
    log = install.stdout + install.stderr
    # install-types linked the chosen install type's script into install.d.
    link = os.path.join(tree["hooks"], "install.d", "75-heat-config-kubectl")
    assert os.readlink(link) == (
        f"heat-config-kubectl-{tree['install_type']}-install/75-heat-config-kubectl")
    assert "75-heat-config-kubectl completed" in log
    assert "76-heat-config-kubectl-hook completed" in log


def test_hook_is_installed_root_owned_0755(tree):
    hook = rootfs.inside(tree["root"], HOOK)
    info = os.stat(hook)
    assert stat.S_IMODE(info.st_mode) == 0o755
    assert (info.st_uid, info.st_gid) == (0, 0)
    with open(hook) as wrapper:
        assert "exec /usr/local/bin/heat-config-kubectl " in wrapper.read()
    program = os.path.join(rootfs.inside(tree["root"], "/usr/local/bin"), "heat-config-kubectl")
    venv = rootfs.inside(tree["root"], "/opt/stack/venvs/heat-config-kubectl")
    if tree["install_type"] == "source":
        # The program of the source install type's own virtualenv.
        assert os.readlink(program) == (
            "/opt/stack/venvs/heat-config-kubectl/bin/heat-config-kubectl")
    else:
        # pip's console script in the system python (PEP 668 overridden), no virtualenv.
        assert not os.path.islink(program)
        with open(program) as script:
            assert script.readline().strip() == "#!/usr/bin/python3"
        assert not os.path.exists(venv)
        # The package's hook script (named kubectl) must not shadow a real kubectl.
        kubectl = os.path.join(rootfs.inside(tree["root"], "/usr/local/bin"), "kubectl")
        assert not os.path.exists(kubectl)


def test_node_defaults_come_from_dib_variables(tree):
    proc = rootfs.in_chroot(tree["root"], [
        "sh", "-c", '. /etc/heat-config-kubectl/env; '
                    'echo "$HEAT_KUBECTL_BACKEND|$KUBECONFIG|$HEAT_KUBECTL_CLEANUP"'])
    assert proc.stdout.strip() == f"kubernetes|{KUBECONFIG_IN_TREE}|0"
    # The agent's own environment wins over the file.
    proc = rootfs.in_chroot(tree["root"], [
        "sh", "-c", '. /etc/heat-config-kubectl/env; echo "$HEAT_KUBECTL_BACKEND"'],
        env={"HEAT_KUBECTL_BACKEND": "podman"})
    assert proc.stdout.strip() == "podman"


def test_installed_hook_answers_a_deployment_through_55_heat_config(tree):
    from tests.kubeapi import KubeAPI
    import kubernetes

    root = tree["root"]
    element = os.path.join(tree["agents"], "heat-config")
    # Where heat-config's element puts them in an image (os-refresh-config's
    # configure.d, install-bin's /usr/local/bin).
    for source, target in (
            ("os-refresh-config/configure.d/55-heat-config",
             "/usr/libexec/os-refresh-config/configure.d/55-heat-config"),
            ("bin/heat-config-notify", "/usr/local/bin/heat-config-notify")):
        os.makedirs(rootfs.inside(root, os.path.dirname(target)), exist_ok=True)
        shutil.copy2(os.path.join(element, source), rootfs.inside(root, target))

    heat = HeatServer().start()
    name = f"settings-{uuid.uuid4().hex[:6]}"
    with KubeAPI() as api:
        os.makedirs(rootfs.inside(root, "/etc/kubernetes"), exist_ok=True)
        shutil.copy(api.kubeconfig_path, rootfs.inside(root, KUBECONFIG_IN_TREE))
        deployment = {
            "id": "c0ffee00-0000-4000-8000-000000000001", "name": "settings",
            "group": "kubectl",
            "config": ("apiVersion: v1\nkind: ConfigMap\n"
                       f"metadata: {{name: {name}, namespace: default}}\n"
                       "data: {greeting: '${greeting}'}\n"),
            "options": {"outputs": {"greeting": f"configmap/{name}.default:{{.data.greeting}}"}},
            "inputs": [
                {"name": "greeting", "type": "String", "value": "hello from the image"},
                {"name": "deploy_server_id", "type": "String", "value": "server-1"},
                {"name": "deploy_action", "type": "String", "value": "CREATE"},
                {"name": "deploy_stack_id", "type": "String", "value": f"img/{uuid.uuid4()}"},
                {"name": "deploy_resource_name", "type": "String", "value": "Settings"},
                {"name": "deploy_signal_transport", "type": "String", "value": "CFN_SIGNAL"},
                {"name": "deploy_signal_id", "type": "String", "value": heat.cfn_url("img")},
            ],
            "outputs": [{"name": "greeting", "type": "String"}],
        }
        os.makedirs(rootfs.inside(root, "/var/run/heat-config"), exist_ok=True)
        conf = rootfs.inside(root, "/var/run/heat-config/heat-config")
        with open(conf, "w") as out:
            json.dump([deployment], out)

        # A bare environment, as os-collect-config's service has: backend and
        # kubeconfig come from the element's /etc/heat-config-kubectl/env.
        proc = rootfs.in_chroot(
            root, ["/usr/libexec/os-refresh-config/configure.d/55-heat-config"])
        heat.stop()
        assert proc.returncode == 0, proc.stderr
        assert f"Running {HOOK} < /var/lib/heat-config/deployed/" in proc.stderr

        (request,) = heat.signals()
        signal = request.json()
        assert signal["deploy_status_code"] == 0, signal
        assert signal["greeting"] == "hello from the image"
        assert name in signal["deploy_stdout"]
        client = kubernetes.config.new_client_from_config(api.kubeconfig_path)
        live = kubernetes.client.CoreV1Api(client).read_namespaced_config_map(name, "default")
        assert live.data == {"greeting": "hello from the image"}
        assert live.metadata.labels["app.kubernetes.io/managed-by"] == "heat-config-kubectl"
        assert os.path.exists(rootfs.inside(
            root, f"/var/lib/heat-config/deployed/{deployment['id']}.json"))
