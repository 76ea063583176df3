#!/usr/bin/env bash
# Build the baomi image from deploy/Dockerfile with podman, on a Debian base made here with
# mmdebstrap: for hosts that cannot (or must not) pull base images from a registry.
#
#   deploy/image/build.sh                      # -> localhost/baomi:0.1.0
#   deploy/image/build.sh registry.corp/baomi:0.1.0
#
# Environment:
#   BASE_IMAGE      base to build on (default localhost/baomi-base:trixie, made if missing)
#   DEBIAN_MIRROR   for mmdebstrap (default http://deb.debian.org/debian)
#   PIP_CERT        a CA bundle on this host, for pip behind a TLS-inspecting proxy (mounted
#                   into the build only; the image does not keep it)
#   PODMAN_RUNTIME  OCI runtime, e.g. runc where crun refuses hybrid cgroup v1/v2 hosts
# Needs: podman (Debian: podman, plus runc on hybrid-cgroup hosts), mmdebstrap, root.
set -euo pipefail
cd "$(dirname "$0")/../.."
tag=${1:-localhost/baomi:0.1.0}
base=${BASE_IMAGE:-localhost/baomi-base:trixie}
podman=(podman ${PODMAN_RUNTIME:+--runtime "$PODMAN_RUNTIME"})

if ! "${podman[@]}" image exists "$base"; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  # Debian 13: python3 is 3.13 (baomi needs >= 3.12; Debian 12 has 3.11). passwd: useradd.
  mmdebstrap --variant=minbase --include=passwd,python3,python3-venv,ca-certificates \
    trixie "$tmp/base.tar" "${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
  "${podman[@]}" import --change 'CMD ["/bin/bash"]' "$tmp/base.tar" "$base"
fi

# docker format keeps the HEALTHCHECK (OCI image config has no field for it); host network
# because the build only needs to reach the package index.
args=(--format docker --network host --ignorefile deploy/Dockerfile.dockerignore
      --build-arg "PYTHON_IMAGE=$base" -f deploy/Dockerfile -t "$tag")
if [ -n "${PIP_CERT:-}" ]; then
  args+=(--build-arg PIP_CERT=/run/baomi-build-ca.pem -v "$PIP_CERT:/run/baomi-build-ca.pem:ro")
fi
"${podman[@]}" build "${args[@]}" .
