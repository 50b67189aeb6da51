# Shared by both install types (sourced; dib-run-parts does not run it: its
# name has a dot).

# Print the pip argument for what extra-data.d staged. A staged source tree is
# copied to a writable directory first: pip builds in the tree, and
# /tmp/in_target.d is a read-only bind mount during a build.
heat_config_kubectl_pip_spec() {
    local staged=/tmp/in_target.d/heat-config-kubectl-source
    local extras=${DIB_HEAT_CONFIG_KUBECTL_EXTRAS:-}
    local suffix=""
    [ -n "$extras" ] && suffix="[$extras]"
    local kind
    kind=$(cat "$staged/.spec-kind")
    case "$kind" in
        tree)
            local build
            build=$(mktemp -d /tmp/heat-config-kubectl-build.XXXXXX)
            cp -a "$staged/." "$build/"
            echo "$build$suffix" ;;
        file:*) echo "$staged/${kind#file:}$suffix" ;;
        requirement:*) echo "${kind#requirement:}" ;;
        *) echo "heat-config-kubectl: unknown staged source '$kind'" >&2; return 1 ;;
    esac
}
