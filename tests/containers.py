"""Real containers for the tests: podman with runc and a local busybox image.

No registry is reachable here, so the image is built from Debian's
busybox-static with `podman import`. runc refuses to start containers unless
default ulimits are set within the machine's hard limits, so a
containers.conf is written and passed through CONTAINERS_CONF.
"""

import os
import resource
import shutil
import subprocess
import tempfile

IMAGE = "localhost/heat-kubectl-busybox:test"
BUSYBOX = "/bin/busybox"
APPLETS = ("sh", "ls", "cat", "echo", "sleep", "httpd", "wget", "nc", "true",
           "false", "env", "test", "mkdir", "date", "grep", "ps", "kill", "hostname")


def containers_conf(directory: str) -> str:
    """Write a containers.conf runc accepts on this machine; return its path."""
    hard_nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    nofile = 65536 if hard_nofile in (resource.RLIM_INFINITY, -1) else min(hard_nofile, 65536)
    # runc fails to raise nproc beyond what the kernel allows here; 4096 is ample.
    path = os.path.join(directory, "containers.conf")
    with open(path, "w") as conf:
        conf.write(
            "[containers]\n"
            f'default_ulimits = ["nofile={nofile}:{nofile}", "nproc=4096:4096"]\n'
            "[engine]\n"
            'runtime = "runc"\n'
            # The default 1 MB event log rotates within minutes when the
            # suite runs, losing the container deaths the hook reads.
            'events_logfile_max_size = "512m"\n')
    return path


def environ(directory: str) -> dict:
    """The environment a podman-using process (the hook too) needs."""
    env = dict(os.environ)
    env["CONTAINERS_CONF"] = containers_conf(directory)
    return env


def image_exists(env: dict, image: str = IMAGE) -> bool:
    return subprocess.run(["podman", "image", "exists", image], env=env).returncode == 0


def build_image(env: dict, image: str = IMAGE) -> str:
    """Build the busybox image once per machine; return its name."""
    if image_exists(env, image):
        return image
    if not os.path.exists(BUSYBOX):
        raise RuntimeError(f"{BUSYBOX} is missing: apt-get install busybox-static")
    with tempfile.TemporaryDirectory() as tmp:
        root = os.path.join(tmp, "rootfs")
        os.makedirs(os.path.join(root, "bin"))
        for extra in ("tmp", "etc", "var/www", "proc", "sys", "dev"):
            os.makedirs(os.path.join(root, extra), exist_ok=True)
        shutil.copy2(BUSYBOX, os.path.join(root, "bin", "busybox"))
        for applet in APPLETS:
            os.symlink("busybox", os.path.join(root, "bin", applet))
        with open(os.path.join(root, "var/www/index.html"), "w") as page:
            page.write("hello from heat-config-kubectl\n")
        with open(os.path.join(root, "etc/passwd"), "w") as passwd:
            passwd.write("root:x:0:0:root:/:/bin/sh\n")
        tarball = os.path.join(tmp, "rootfs.tar")
        subprocess.run(["tar", "-C", root, "-cf", tarball, "."], check=True)
        subprocess.run(
            ["podman", "import", "--change", "CMD=/bin/sh", "--change", "ENV=PATH=/bin",
             tarball, image],
            env=env, check=True, stdout=subprocess.DEVNULL)
    return image


def podman_available() -> bool:
    return shutil.which("podman") is not None and shutil.which("runc") is not None
