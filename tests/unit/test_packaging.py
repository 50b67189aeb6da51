"""The installed package must not shadow the node's real kubectl."""

import subprocess
import sys
import zipfile


def test_wheel_installs_console_script_but_no_kubectl(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                    "-q", "-w", str(tmp_path), "."], check=True, capture_output=True)
    wheel = next(tmp_path.glob("heat_config_kubectl-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert not [n for n in names if n.endswith("/kubectl") or ".data/scripts/" in n], names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "heat-config-kubectl = hook_kubectl.cli:main" in text
    assert "hook_kubectl/backends/kubernetes.py" in names
