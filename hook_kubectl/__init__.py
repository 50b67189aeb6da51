"""heat-config-kubectl: a heat-config hook that runs Kubernetes manifests.

The heat-config agent hands the hook one OS::Heat::SoftwareDeployment (group
``kubectl``) as JSON on stdin; the hook applies it with a backend (a Kubernetes
cluster, podman on one node, or docker-compose), waits until it is ready or has
clearly failed, and prints the one JSON result that the agent signals to Heat.
"""

__version__ = "0.1.0"
