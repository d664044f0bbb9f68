#!/usr/bin/env bash
# Installs nvcc (Debian's non-free nvidia-cuda-toolkit, CUDA 11.8) so kernels/*.cu can be built to PTX
# on machines without a GPU, and a host C++ compiler (g++) for the kernel emulator (tools/cuda-emulator).
# Idempotent: does nothing when nvcc and a C++ compiler are already on PATH.
# Needs root (apt). About 1.6 GB of packages.
set -euo pipefail

have_cxx() { command -v c++ >/dev/null 2>&1 || command -v g++ >/dev/null 2>&1; }

if command -v nvcc >/dev/null 2>&1 && have_cxx; then
    echo "install-nvcc: nvcc present ($(command -v nvcc)), C++ compiler present"
    exit 0
fi
if command -v nvcc >/dev/null 2>&1; then
    [ "$(id -u)" -eq 0 ] || { echo "install-nvcc: the kernel emulator needs a C++ compiler (g++), and installing it needs root" >&2; exit 1; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends g++ || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends g++; }
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
apt-get install -y -q --no-install-recommends nvidia-cuda-toolkit g++
command -v nvcc >/dev/null 2>&1 || { echo "install-nvcc: nvidia-cuda-toolkit installed but nvcc not on PATH" >&2; exit 1; }
nvcc --version
