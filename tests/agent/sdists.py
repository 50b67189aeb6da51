"""The real heat-agents (and tripleo-image-elements) scripts, from PyPI.

The wheels carry none of the scripts, so the sdists are downloaded at test
time with pip and unpacked under .cache/sdists (gitignored): a second run
reuses them. Nothing from them is ever committed.
"""

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile

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
        # Into a private directory first: another test run may be fetching too.
        download = tempfile.mkdtemp(prefix="download-", dir=CACHE)
        try:
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                 "--no-binary", ":all:", f"{name}=={version}", "--dest", download],
                check=True)
            fetched = os.path.join(download, os.path.basename(tarball))
            if not os.path.exists(fetched):
                raise RuntimeError(f"pip download of {name}=={version} gave no {fetched}")
            os.replace(fetched, tarball)
        finally:
            shutil.rmtree(download, ignore_errors=True)
    partial = tempfile.mkdtemp(prefix="unpack-", dir=CACHE)
    try:
        with tarfile.open(tarball) as archive:
            archive.extractall(partial, filter="tar")
        try:
            os.rename(os.path.join(partial, top), target)
        except OSError:
            if not os.path.isdir(target):  # else: another run unpacked it first
                raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return target


def heat_agents() -> str:
    return unpacked(HEAT_AGENTS)


def tripleo_image_elements() -> str:
    return unpacked(TRIPLEO_IMAGE_ELEMENTS)
