"""One node's heat-config agent chain, run for real inside a temp directory.

os-collect-config (PyPI) -> os-refresh-config (PyPI) -> configure.d:
  20-os-apply-config (heat-agents sdist) -> os-apply-config (PyPI) renders the
  heat-config element's template into <node>/root/var/run/heat-config/heat-config
  55-heat-config (heat-agents sdist) -> hooks/kubectl -> heat-config-notify
  (heat-agents sdist) -> the HeatServer on 127.0.0.1.

The scripts are the sdist's files (symlinked, never copied or edited); every
path they would use on a node is redirected with their own environment
variables and options, so nothing is written under the real /var or /etc.
"""

import json
import os
import shutil
import subprocess
import sys

from tests.agent import sdists

ROOT = sdists.ROOT
HOOK = os.path.join(ROOT, "hooks", "kubectl")
# The bin directory of the python running the tests (a venv's, not resolved through
# its symlink): its console scripts and its python3 for the scripts' shebangs.
BIN = os.path.dirname(sys.executable)

# 20-os-apply-config runs a bare `os-apply-config`, which writes under / and,
# as root, appends to /var/log/os-apply-config.log. This wrapper, first on
# PATH, adds --output <node root> and gives the real tool a private /var/log
# (a bind mount in its own mount namespace, invisible to everything else).
OS_APPLY_CONFIG_WRAPPER = """#!/bin/sh
set -e
if [ "$(id -u)" = 0 ] && unshare --mount --propagation private true 2>/dev/null; then
    exec unshare --mount --propagation private \\
        sh -c 'mount --bind "$1" /var/log && shift && exec "$@"' sh \\
        "{logdir}" "{real}" --output "{root}" "$@"
fi
exec "{real}" --output "{root}" "$@"
"""


def tool(name):
    """A console script of the python running the tests (not a pyenv shim)."""
    path = os.path.join(BIN, name)
    if os.path.exists(path):
        return path
    found = shutil.which(name)
    if not found:
        raise RuntimeError(f"{name} not found: pip install -r requirements-test.txt")
    return found


class Node:
    """Directories and environment of one simulated node."""

    def __init__(self, base, heat, hook=HOOK, env=None, extra_scripts=()):
        self.base = str(base)
        self.heat = heat
        agents = sdists.heat_agents()
        element = os.path.join(agents, "heat-config")
        self.configure_d_scripts = [
            os.path.join(element, "os-refresh-config", "configure.d", "20-os-apply-config"),
            os.path.join(element, "os-refresh-config", "configure.d", "55-heat-config"),
        ]
        self.templates = os.path.join(element, "os-apply-config")
        self.notify = os.path.join(element, "bin", "heat-config-notify")

        def sub(*parts):
            path = os.path.join(self.base, *parts)
            os.makedirs(path, exist_ok=True)
            return path

        self.local_data = sub("local-data")
        os.chmod(self.local_data, 0o700)
        self.cachedir = os.path.join(self.base, "cache")
        self.backup_cachedir = os.path.join(self.base, "cache-backup")
        self.root = sub("root")  # os-apply-config's output root
        self.logdir = sub("log")
        self.hooks = sub("hooks")
        self.deployed = os.path.join(self.base, "deployed")
        self.orc = sub("os-refresh-config")
        configure_d = sub("os-refresh-config", "configure.d")
        self.configure_d_scripts += list(extra_scripts)
        for script in self.configure_d_scripts:
            os.symlink(script, os.path.join(configure_d, os.path.basename(script)))
        os.symlink(hook, os.path.join(self.hooks, "kubectl"))
        self.bin = sub("bin")
        wrapper = os.path.join(self.bin, "os-apply-config")
        with open(wrapper, "w") as out:
            out.write(OS_APPLY_CONFIG_WRAPPER.format(
                logdir=self.logdir, real=tool("os-apply-config"), root=self.root))
        os.chmod(wrapper, 0o755)
        self.tmp = sub("tmp")
        self.conf = os.path.join(self.base, "os-collect-config.conf")
        with open(self.conf, "w") as out:
            out.write("[DEFAULT]\n")  # an empty config: never read /etc/os-collect-config.conf
        self.env = dict(os.environ if env is None else env)
        self.env.update({
            "PATH": os.pathsep.join([self.bin, BIN, self.env.get("PATH", "/usr/bin:/bin")]),
            "OS_REFRESH_CONFIG_BASE_DIR": self.orc,
            "OS_CONFIG_APPLIER_TEMPLATES": self.templates,
            "HEAT_CONFIG_HOOKS": self.hooks,
            "HEAT_SHELL_CONFIG": self.heat_config_path,
            "HEAT_CONFIG_DEPLOYED": self.deployed,
            "HEAT_CONFIG_DEPLOYED_OLD": os.path.join(self.base, "deployed-old"),
            "HEAT_CONFIG_NOTIFY": self.notify,
            "TMPDIR": self.tmp,
            # The local collector saves and restores the locale; with
            # LANG=C.UTF-8 Python reports it as en_US.UTF-8, which is not
            # installed here, and os-collect-config crashes. C round-trips.
            "LC_ALL": "C",
        })
        self.env.pop("OS_CONFIG_FILES", None)

    @property
    def heat_config_path(self):
        return os.path.join(self.root, "var", "run", "heat-config", "heat-config")

    def write_local_metadata(self, deployments, name="heat"):
        """Metadata as os-collect-config's `local` collector reads it."""
        path = os.path.join(self.local_data, f"{name}.json")
        with open(path, "w") as out:
            json.dump({"deployments": deployments}, out)
        os.chmod(path, 0o600)

    def collect(self, collector="local", force=False, timeout=600):
        """One os-collect-config pass (--force: run the command even when
        nothing changed); returns the CompletedProcess."""
        command = (f"os-refresh-config --log-level DEBUG "
                   f"--lockfile {os.path.join(self.base, 'os-refresh-config.lock')}")
        args = [tool("os-collect-config"), "--force" if force else "--one-time",
                "--config-file", self.conf,
                "--cachedir", self.cachedir, "--backup-cachedir", self.backup_cachedir,
                "--command", command, collector]
        if collector == "local":
            args += ["--local-path", self.local_data]
        elif collector == "request":
            args += ["--request-metadata-url", f"{self.heat.url}/metadata"]
        return subprocess.run(args, env=self.env, capture_output=True, text=True,
                              timeout=timeout)

    def deployed_files(self):
        if not os.path.isdir(self.deployed):
            return []
        return sorted(os.listdir(self.deployed))

    def notify_json(self, config_id):
        """What 55-heat-config handed heat-config-notify for one deployment."""
        with open(os.path.join(self.deployed, f"{config_id}.notify.json")) as data:
            return json.load(data)
