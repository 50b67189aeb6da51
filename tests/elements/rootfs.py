"""A minimal Debian bookworm tree to run the element's install phase in.

debootstrap (minbase, plus python3 and what 55-heat-config and
heat-config-notify import) runs once, about a minute, and the tree is cached
as a tarball under .cache/rootfs (gitignored). Each test unpacks a fresh copy.

Everything run inside the tree goes through `in_chroot`: a private mount
namespace (unshare) holds the /dev, /proc and hook bind mounts, so they vanish
with the process and never leak onto the host, whatever happens.
"""

import hashlib
import os
import shlex
import shutil
import subprocess
import tempfile

from tests.agent import sdists

SUITE = "bookworm"
# python3-venv for the source install type, python3-pip for the package one;
# python3-yaml and python3-requests for 55-heat-config and heat-config-notify.
INCLUDE = ("python3", "python3-venv", "python3-pip", "python3-yaml", "python3-requests",
           "ca-certificates")
MIRROR = os.environ.get("HEAT_KUBECTL_DEBIAN_MIRROR", "http://deb.debian.org/debian")
CACHE = os.path.join(sdists.ROOT, ".cache", "rootfs")
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def missing_tools():
    return [t for t in ("debootstrap", "unshare", "chroot", "mount", "tar")
            if not shutil.which(t)]


def tarball() -> str:
    """The cached tree, built on first use."""
    digest = hashlib.sha256(f"{SUITE} {' '.join(INCLUDE)}".encode()).hexdigest()[:10]
    path = os.path.join(CACHE, f"{SUITE}-minbase-{digest}.tar")
    if os.path.exists(path):
        return path
    os.makedirs(CACHE, exist_ok=True)
    for stale in os.listdir(CACHE):  # trees made for another package list
        if stale.startswith(f"{SUITE}-minbase-") and stale.endswith(".tar"):
            os.remove(os.path.join(CACHE, stale))
    build = tempfile.mkdtemp(prefix="debootstrap-", dir=CACHE)
    partial = f"{path}.{os.getpid()}.partial"  # another test run may be building too
    try:
        subprocess.run(
            ["debootstrap", "--variant=minbase", f"--include={','.join(INCLUDE)}",
             SUITE, os.path.join(build, "root"), MIRROR],
            check=True, stdout=subprocess.DEVNULL, timeout=1200)
        subprocess.run(["tar", "-C", os.path.join(build, "root"), "--numeric-owner",
                        "-cf", partial, "."], check=True)
        os.replace(partial, path)
    finally:
        shutil.rmtree(build, ignore_errors=True)
        if os.path.exists(partial):
            os.remove(partial)
    return path


def unpack(dest) -> str:
    os.makedirs(dest, exist_ok=True)
    subprocess.run(["tar", "-C", str(dest), "--numeric-owner", "-xpf", tarball()], check=True)
    return str(dest)


def inside(root, path) -> str:
    """The host path of `path` in the tree, following the tree's symlinks as
    the chroot would (bookworm's /var/run -> /run must not lead to the host's /run)."""
    root = os.path.realpath(str(root))
    current = root
    parts = [p for p in path.split("/") if p]
    hops = 0
    while parts:
        part = parts.pop(0)
        candidate = os.path.join(current, part)
        if os.path.islink(candidate):
            hops += 1
            if hops > 40:
                raise OSError(f"too many symlinks resolving {path} in {root}")
            target = os.readlink(candidate)
            parts = [p for p in target.split("/") if p] + parts
            if target.startswith("/"):
                current = root
            continue
        if part == "..":
            current = max(os.path.dirname(current), root, key=len)
            continue
        current = candidate
    return current


def copy_host_network_settings(root):
    """What the tree needs to reach PyPI the way this host does: its DNS,
    CA certificates and pip configuration (DIB copies resolv.conf the same way)."""
    for path in ("/etc/resolv.conf", "/etc/ssl/certs/ca-certificates.crt", "/etc/pip.conf"):
        if os.path.exists(path):
            target = os.path.join(inside(root, os.path.dirname(path)), os.path.basename(path))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            if os.path.lexists(target):
                os.remove(target)
            shutil.copy(path, target)
    if os.path.isdir("/etc/xdg/pip"):
        shutil.copytree("/etc/xdg/pip", inside(root, "/etc/xdg/pip"), dirs_exist_ok=True)


def host_pip_env():
    """PIP_* settings of this host, and any proxy, for processes in the tree."""
    keep = {}
    for name, value in os.environ.items():
        if name.startswith("PIP_") or name.lower() in ("http_proxy", "https_proxy", "no_proxy"):
            keep[name] = value
    return keep


def in_chroot(root, argv, env=None, binds=(), input=None, timeout=900):
    """Run argv inside `root` with /dev, /proc and `binds` [(host path,
    path in tree, read_only)] mounted in a private mount namespace."""
    for mount_point in ("/dev", "/proc"):  # an image tarball may leave them out
        os.makedirs(inside(root, mount_point), exist_ok=True)
    steps = ['set -e', 'r="$1"; shift',
             'mount --bind /dev "$r/dev"', 'mount -t proc proc "$r/proc"']
    for source, target, read_only in binds:
        mount_point = inside(root, target)
        os.makedirs(mount_point, exist_ok=True)
        steps.append(f'mount --bind {shlex.quote(str(source))} {shlex.quote(mount_point)}')
        if read_only:
            steps.append(f'mount -o remount,ro,bind {shlex.quote(mount_point)}')
    steps.append('exec chroot "$r" "$@"')
    environment = [f"{k}={v}" for k, v in dict(
        {"PATH": PATH, "HOME": "/root", "LC_ALL": "C.UTF-8"}, **(env or {})).items()]
    command = ["unshare", "--mount", "--propagation", "private", "--",
               "sh", "-c", "; ".join(steps), "sh", str(root),
               "/usr/bin/env", "-i", *environment, *argv]
    return subprocess.run(command, input=input, capture_output=True, text=True,
                          timeout=timeout)
