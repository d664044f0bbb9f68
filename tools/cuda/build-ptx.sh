#!/usr/bin/env bash
# Builds kernels/*.cu to build/ptx/sm_80 and build/ptx/sm_90, and the kernel emulator build/cuda-emulator/
# libiip-cuda-emulator.so (CMakeLists.txt), installing nvcc and g++ first when they are
# missing. Fails when any kernel fails to compile or assemble. Run from anywhere; uses one job (shared machines).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
"$root/tools/cuda/install-nvcc.sh"
command -v cmake >/dev/null || { echo "build-ptx: cmake is required" >&2; exit 1; }
cmake -S "$root" -B "$root/build/cmake" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$root/build/cmake" --parallel "${IIP_PTX_JOBS:-1}"
count=$(find "$root/build/ptx" -name '*.ptx' | wc -l)
emulator="$root/build/cuda-emulator/libiip-cuda-emulator.so"
[ -f "$emulator" ] || { echo "build-ptx: the kernel emulator $emulator was not built" >&2; exit 1; }
echo "build-ptx: $count PTX files in build/ptx; the kernel emulator in build/cuda-emulator"
