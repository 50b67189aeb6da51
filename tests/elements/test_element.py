"""The diskimage-builder element: DIB's own lint, and its dependencies
resolved by DIB against the real heat-agents and tripleo-image-elements."""

import os
import shutil
import subprocess

import pytest

from tests.agent import sdists

ROOT = sdists.ROOT
ELEMENT = os.path.join(ROOT, "elements", "heat-config-kubectl")


def dib_lint(elements_dir, tmp_path):
    """dib-lint (diskimage-builder, PyPI) over one elements directory."""
    if not shutil.which("dib-lint"):
        pytest.fail("dib-lint missing: pip install -r requirements-test.txt")
    empty_lib = tmp_path / "lib"
    empty_lib.mkdir(exist_ok=True)
    env = dict(os.environ, ELEMENTS_DIR=str(elements_dir), LIB_DIR=str(empty_lib))
    return subprocess.run(["dib-lint"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


def test_element_passes_dib_lint(tmp_path):
    proc = dib_lint("elements", tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "PASS" in proc.stdout
    hook_script = "elements/heat-config-kubectl/install.d/76-heat-config-kubectl-hook"
    assert f"Checking {hook_script}" in proc.stdout


def test_dib_lint_catches_a_broken_copy_of_the_element(tmp_path):
    """The lint above can fail: a script that lost its executable bit."""
    elements = tmp_path / "elements"
    shutil.copytree(ELEMENT, elements / "heat-config-kubectl")
    os.chmod(elements / "heat-config-kubectl" / "install.d" / "76-heat-config-kubectl-hook", 0o644)
    proc = dib_lint(elements, tmp_path)
    assert proc.returncode != 0
    assert "76-heat-config-kubectl-hook is not executable" in proc.stdout


def elements_path(*extra):
    import diskimage_builder
    dib_elements = os.path.join(os.path.dirname(diskimage_builder.__file__), "elements")
    return ":".join([os.path.join(ROOT, "elements"), *extra, dib_elements])


def test_dependencies_resolve_against_heat_agents_and_tripleo_image_elements():
    from diskimage_builder import element_dependencies
    heat_agents = sdists.heat_agents()
    tie = os.path.join(sdists.tripleo_image_elements(), "elements")
    resolved = dict(element_dependencies.get_elements(
        ["debian-minimal", "heat-config-kubectl"],
        paths=elements_path(heat_agents, tie)))

    assert resolved["heat-config-kubectl"] == os.path.realpath(ELEMENT)
    assert resolved["heat-config"] == os.path.realpath(os.path.join(heat_agents, "heat-config"))
    for name in ("os-collect-config", "os-refresh-config", "os-apply-config"):
        assert resolved[name] == os.path.realpath(os.path.join(tie, name)), name
    # What those pull in, from diskimage-builder itself.
    for name in ("install-types", "package-installs", "pip-and-virtualenv", "debootstrap"):
        assert name in resolved, name


def test_resolution_fails_without_tripleo_image_elements():
    from diskimage_builder import element_dependencies
    with pytest.raises(element_dependencies.MissingElementException) as failure:
        element_dependencies.get_elements(
            ["debian-minimal", "heat-config-kubectl"], paths=elements_path(sdists.heat_agents()))
    assert "os-" in str(failure.value)
