from setuptools import find_packages, setup

setup(
    name="heat-config-kubectl",
    version="0.1.0",
    description="heat-config hook that applies Kubernetes manifests and waits until they are ready",
    long_description=open("README.md").read() if __import__("os").path.exists("README.md") else "",
    long_description_content_type="text/markdown",
    python_requires=">=3.11",
    packages=find_packages(include=["hook_kubectl", "hook_kubectl.*"]),
    install_requires=["PyYAML>=5.4"],
    extras_require={
        "kubernetes": ["kubernetes>=28"],
        "test": [
            "kubernetes>=28",
            "pytest>=7",
            "fixtures>=4",
        ],
    },
    # hooks/kubectl is not installed as a script: it would shadow the node's
    # real kubectl on PATH. The element links it into the hooks directory.
    entry_points={"console_scripts": ["heat-config-kubectl = hook_kubectl.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Environment :: OpenStack",
    ],
)
