# Build-time settings of the heat-config-kubectl element. Every DIB_ variable
# has a default here; the install step writes the node's defaults from them
# into /etc/heat-config-kubectl/env, which the hook reads on every run.

# Default backend of the node's hook (kubernetes | podman | compose);
# a deployment's options.backend still wins.
export DIB_HEAT_CONFIG_KUBECTL_BACKEND=${DIB_HEAT_CONFIG_KUBECTL_BACKEND:-kubernetes}
# Where the node's kubeconfig will be (the image does not contain one).
export DIB_HEAT_CONFIG_KUBECTL_KUBECONFIG=${DIB_HEAT_CONFIG_KUBECTL_KUBECONFIG:-/etc/heat-config-kubectl/kubeconfig}
# 1: delete (as a DELETE run of the hook) kubectl deployments that vanished
# from the server's metadata. Off by default: see the element's README.
export DIB_HEAT_CONFIG_KUBECTL_CLEANUP=${DIB_HEAT_CONFIG_KUBECTL_CLEANUP:-0}
# What pip installs: empty means this element's own source tree (the
# checkout the element lives in); else a path, a wheel or a requirement.
export DIB_HEAT_CONFIG_KUBECTL_SOURCE=${DIB_HEAT_CONFIG_KUBECTL_SOURCE:-}
# Extras to install with it (kubernetes: the official client for the
# kubernetes backend). Empty for a podman/compose-only node.
export DIB_HEAT_CONFIG_KUBECTL_EXTRAS=${DIB_HEAT_CONFIG_KUBECTL_EXTRAS-kubernetes}
# The virtualenv of the source install type.
export DIB_HEAT_CONFIG_KUBECTL_VENV=${DIB_HEAT_CONFIG_KUBECTL_VENV:-/opt/stack/venvs/heat-config-kubectl}
