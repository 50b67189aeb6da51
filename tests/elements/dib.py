"""diskimage-builder's own machinery, driven phase by phase for one element.

disk-image-create merges every element's hook directories into
$TMP_HOOKS_PATH, runs extra-data.d outside the chroot (install-types picks the
install type there), then bind-mounts the hooks at /tmp/in_target.d and runs
install.d inside the chroot with its own dib-run-parts. These helpers do the
same with DIB's real scripts, for the heat-config-kubectl element (plus
install-types, which it depends on), without building a whole image.
"""

import os
import shutil
import subprocess
import sys

import diskimage_builder

DIB = os.path.dirname(diskimage_builder.__file__)
DIB_RUN_PARTS = os.path.join(DIB, "lib", "dib-run-parts")
ELEMENT_INFO = os.path.join(DIB, "lib", "element-info.py")
IN_TARGET = "/tmp/in_target.d"


def generate_hooks(hooks, element_dirs, install_type="source"):
    """Merge element hook dirs into `hooks` as DIB's generate_hooks does."""
    os.makedirs(hooks, exist_ok=True)
    for element in element_dirs:
        for entry in sorted(os.listdir(element)):
            source = os.path.join(element, entry)
            if os.path.isdir(source) and entry not in ("tests", "__pycache__"):
                shutil.copytree(source, os.path.join(hooks, entry), symlinks=True,
                                dirs_exist_ok=True)
            elif os.path.isfile(source) and not entry.endswith(".pyc"):
                shutil.copy2(source, hooks)
    # disk-image-create writes this one itself.
    env_d = os.path.join(hooks, "environment.d")
    os.makedirs(env_d, exist_ok=True)
    with open(os.path.join(env_d, "11-dib-install-type.bash"), "w") as out:
        out.write("export DIB_DEFAULT_INSTALLTYPE="
                  f'${{DIB_DEFAULT_INSTALLTYPE:-"{install_type}"}}\n')
    shutil.copy2(DIB_RUN_PARTS, hooks)
    return hooks


def run_extra_data(hooks, elements, elements_path, env):
    """extra-data.d on the host, with the variables disk-image-create exports
    (IMAGE_ELEMENT_YAML and get_image_element_array, from DIB's element-info)."""
    script = 'set -e; eval "$("$0" "$1" --env $2)"; exec "$3" "$4/extra-data.d"'
    run_env = dict(env, ELEMENTS_PATH=elements_path, TMP_HOOKS_PATH=hooks)
    return subprocess.run(
        ["bash", "-c", script, sys.executable, ELEMENT_INFO, " ".join(elements),
         DIB_RUN_PARTS, hooks],
        env=run_env, capture_output=True, text=True, timeout=300)
