"""The real heat-agents (and tripleo-image-elements) scripts, from PyPI.

The wheels carry none of the scripts, so the sdists are downloaded at test
time with pip and unpacked under .cache/sdists (gitignored): a second run
reuses them. Nothing from them is ever committed.
"""

import os
import subprocess
import sys
import tarfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CACHE = os.path.join(ROOT, ".cache", "sdists")

HEAT_AGENTS = ("heat-agents", "13.0.0", "heat_agents-13.0.0")
TRIPLEO_IMAGE_ELEMENTS = ("tripleo-image-elements", "15.0.0", "tripleo-image-elements-15.0.0")


def unpacked(project) -> str:
    """Download (once) and unpack (once) an sdist; return its top directory."""
    name, version, top = project
    target = os.path.join(CACHE, top)
    if os.path.isdir(target):
        return target
    os.makedirs(CACHE, exist_ok=True)
    tarball = os.path.join(CACHE, f"{top}.tar.gz")
    if not os.path.exists(tarball):
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
             "--no-binary", ":all:", f"{name}=={version}", "--dest", CACHE],
            check=True)
    if not os.path.exists(tarball):
        raise RuntimeError(f"pip download of {name}=={version} gave no {tarball}")
    partial = target + ".partial"
    with tarfile.open(tarball) as archive:
        archive.extractall(partial, filter="tar")
    os.rename(os.path.join(partial, top), target)
    os.rmdir(partial)
    return target


def heat_agents() -> str:
    return unpacked(HEAT_AGENTS)


def tripleo_image_elements() -> str:
    return unpacked(TRIPLEO_IMAGE_ELEMENTS)
