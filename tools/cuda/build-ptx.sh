#!/usr/bin/env bash
# Builds kernels/*.cu to build/ptx/sm_80 and build/ptx/sm_90 (CMakeLists.txt), installing nvcc first when it is
# missing. Fails when any kernel fails to compile or assemble. Run from anywhere; uses one job (shared machines).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
"$root/tools/cuda/install-nvcc.sh"
command -v cmake >/dev/null || { echo "build-ptx: cmake is required" >&2; exit 1; }
cmake -S "$root" -B "$root/build/cmake" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$root/build/cmake" --parallel "${IIP_PTX_JOBS:-1}"
count=$(find "$root/build/ptx" -name '*.ptx' | wc -l)
echo "build-ptx: $count PTX files in build/ptx"
