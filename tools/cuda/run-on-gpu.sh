#!/usr/bin/env bash
# Runs the CUDA conformance checks (tools/gpu-check: every CUDA op against the CPU reference at SD v1.4 shapes, with
# timings) on a machine with a GPU but without .NET, such as the GPU machine the device tool lends.
#
#   here:   tools/cuda/run-on-gpu.sh prepare
#           builds the PTX (tools/cuda/build-ptx.sh) and publishes a self-contained, trimmed linux-x64 build of
#           tools/gpu-check to build/gpu-check (about 40 MB; build/ is git-ignored, so it travels only when carried)
#   there:  tools/cuda/run-on-gpu.sh check [--filter TEXT] [--reps N]
#           runs build/gpu-check/iip-gpu-check; the log goes to stdout and to $OUT/gpu-check.txt when $OUT is set
#
# With the device tool (one short call; the machine's start counts against the session's device time):
#   run(command="bash tools/cuda/run-on-gpu.sh check --reps 10", carry=["build/gpu-check"], timeout_s=540)
# Exit codes of check: 0 all cases passed, 1 a case failed, 2 no usable GPU.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out_dir="$root/build/gpu-check"

case "${1:-}" in
  prepare)
    "$root/tools/cuda/build-ptx.sh"
    rm -rf "$out_dir"
    dotnet publish "$root/tools/gpu-check/IIP.GpuCheck.csproj" -c Release -r linux-x64 --self-contained \
      -p:PublishTrimmed=true -p:SuppressTrimAnalysisWarnings=true -o "$out_dir"
    # Native libraries of IIP.Runtime's packages that the conformance checks never load (ONNX Runtime for the embedding
    # similarity, Skia/HarfBuzz for ROC plots; 39 MB) and the debugger's: the device tool carries 64 MiB at most.
    rm -f "$out_dir"/libonnxruntime*.so "$out_dir"/libSkiaSharp.so "$out_dir"/libHarfBuzzSharp.so \
      "$out_dir"/libmscordbi.so "$out_dir"/libmscordaccore.so
    size_mib=$(du -sm "$out_dir" | cut -f1)
    [ "$size_mib" -lt 60 ] || { echo "run-on-gpu: build/gpu-check is $size_mib MiB; the device tool carries 64 MiB at most" >&2; exit 1; }
    echo "run-on-gpu: $size_mib MiB in build/gpu-check; carry build/gpu-check and run: tools/cuda/run-on-gpu.sh check"
    ;;
  check)
    shift
    [ -x "$out_dir/iip-gpu-check" ] || { echo "run-on-gpu: $out_dir/iip-gpu-check is missing: run 'prepare' where .NET is, and carry build/gpu-check" >&2; exit 1; }
    # the driver library of the GPU machines' image lives here when it is not on the loader's path
    [ -d /usr/local/nvidia/lib64 ] && export LD_LIBRARY_PATH="/usr/local/nvidia/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
    log="${OUT:-/tmp}/gpu-check.txt"
    set +e
    "$out_dir/iip-gpu-check" "$@" 2>&1 | tee "$log"
    status=${PIPESTATUS[0]}
    set -e
    echo "run-on-gpu: exit $status; log $log"
    exit "$status"
    ;;
  *)
    sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
    exit 64
    ;;
esac
