#!/usr/bin/env bash
# Installs nvcc (Debian's non-free nvidia-cuda-toolkit, CUDA 11.8) so kernels/*.cu can be built to PTX
# on machines without a GPU. Idempotent: does nothing when nvcc is already on PATH.
# Needs root (apt). About 1.6 GB of packages.
set -euo pipefail

if command -v nvcc >/dev/null 2>&1; then
    echo "install-nvcc: nvcc present ($(command -v nvcc))"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "install-nvcc: nvcc is missing and installing it needs root (apt-get)" >&2
    exit 1
fi

# Add the non-free component to the Debian sources (deb822 .sources files or the classic sources.list).
shopt -s nullglob
changed=0
for f in /etc/apt/sources.list.d/*.sources; do
    if grep -q '^URIs: .*debian' "$f" && grep -q '^Components:' "$f" && ! grep -q '^Components:.*\bnon-free\b' "$f"; then
        sed -i -E '/^Components:/ s/$/ contrib non-free/' "$f"
        changed=1
    fi
done
if [ -f /etc/apt/sources.list ]; then
    if grep -qE '^deb .*debian' /etc/apt/sources.list && ! grep -qE '^deb .*debian.*\bnon-free\b' /etc/apt/sources.list; then
        sed -i -E '/^deb .*debian/ s/$/ contrib non-free/' /etc/apt/sources.list
        changed=1
    fi
fi
[ "$changed" -eq 1 ] && echo "install-nvcc: added contrib non-free to the apt sources"

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends nvidia-cuda-toolkit
command -v nvcc >/dev/null 2>&1 || { echo "install-nvcc: nvidia-cuda-toolkit installed but nvcc not on PATH" >&2; exit 1; }
nvcc --version
