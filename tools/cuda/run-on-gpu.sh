#!/usr/bin/env bash
# Runs the CUDA conformance checks (tools/gpu-check: every CUDA op against the CPU reference at SD v1.4 shapes, with
# timings) on a machine with a GPU but without .NET, such as the GPU machine the device tool lends.
#
#   here:   tools/cuda/run-on-gpu.sh prepare
#           builds the PTX (tools/cuda/build-ptx.sh) and publishes a self-contained, trimmed linux-x64 build of
#           tools/gpu-check to build/gpu-check (about 24 MB; build/ is git-ignored, so it travels only when carried)
#           and copies the tiny-sd golden case (fp16 single file, references, tokenizer: 36 MB) to build/golden
#   there:  tools/cuda/run-on-gpu.sh check [--filter TEXT] [--reps N]
#           runs build/gpu-check/iip-gpu-check; the log goes to stdout and to $OUT/gpu-check.txt when $OUT is set
#           tools/cuda/run-on-gpu.sh golden
#           the golden cases end to end on the GPU, judged by the fp16-storage bounds (log: $OUT/gpu-golden.txt)
#           tools/cuda/run-on-gpu.sh bench [--latent HxW] [--reps N]
#           full-size speed on a synthesized SD v1.4, written there first (log: $OUT/gpu-bench.txt)
#
# With the device tool (one short call; the machine's start counts against the session's device time):
#   run(command="bash tools/cuda/run-on-gpu.sh all", carry=["build/gpu-check", "build/golden"], timeout_s=540)
# where `all` runs check --reps 10, golden and bench, each under a time limit, then check and bench with the cp.async
# GEMM main loop (IIP_GEMM_PIPELINE=cp.async; IIP_GPU_CPASYNC=0 skips them; logs end in -cpasync), then all three with
# IIP_CUBLAS=1 (IIP_GPU_CUBLAS=0 skips those; logs end in -cublas), and exits non-zero if any failed.
# The tracked test data (data/: the golden models and the testbeds, about 210 MiB) would push the call over the tool's
# 64 MiB: move it out of the tree for the call (mv data /tmp/iip-data) and back after it; `prepare` copies the golden
# case the device needs into build/golden first.
# Exit codes: 0 all cases passed, 1 a case failed, 2 no usable GPU.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out_dir="$root/build/gpu-check"

# run_runner LOG ARGS...: runs iip-gpu-check with ARGS on the GPU machine, its output to stdout and to LOG; exits with its status.
run_runner() {
  local log="$1"; shift
  # the driver library of the GPU machines' image lives here when it is not on the loader's path
  [ -d /usr/local/nvidia/lib64 ] && export LD_LIBRARY_PATH="/usr/local/nvidia/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  # optional cuBLAS (used with IIP_CUBLAS=1): the image carries it in the nvidia-cublas Python wheel
  if [ -z "${IIP_CUBLAS_DIR:-}" ]; then
    local blas_dir
    blas_dir=$(python3 -c 'import nvidia.cublas, os; print(os.path.join(list(nvidia.cublas.__path__)[0], "lib"))' 2>/dev/null) \
      && [ -d "$blas_dir" ] && export IIP_CUBLAS_DIR="$blas_dir"
  fi
  set +e
  "$out_dir/iip-gpu-check" "$@" 2>&1 | tee "$log"
  local status=${PIPESTATUS[0]}
  set -e
  echo "run-on-gpu: exit $status; log $log"
  exit "$status"
}

case "${1:-}" in
  prepare)
    "$root/tools/cuda/build-ptx.sh"
    rm -rf "$out_dir"
    dotnet publish "$root/tools/gpu-check/IIP.GpuCheck.csproj" -c Release -r linux-x64 --self-contained \
      -p:PublishTrimmed=true -p:SuppressTrimAnalysisWarnings=true -o "$out_dir"
    # Native libraries of IIP.Detection's packages that the conformance checks never load (ONNX Runtime for the embedding
    # similarity, Skia/HarfBuzz for ROC plots; 39 MB) and the debugger's: the device tool carries 64 MiB at most.
    rm -f "$out_dir"/libonnxruntime*.so "$out_dir"/libSkiaSharp.so "$out_dir"/libHarfBuzzSharp.so \
      "$out_dir"/libmscordbi.so "$out_dir"/libmscordaccore.so
    golden_src="$root/data/golden/tiny-sd"
    rm -rf "$root/build/golden"
    if [ -d "$golden_src" ]; then
      mkdir -p "$root/build/golden/tokenizer"
      cp "$golden_src/model-ldm-fp16.safetensors" "$golden_src/golden.safetensors" "$golden_src/golden.json" "$root/build/golden/"
      cp "$golden_src/model/tokenizer/"* "$root/build/golden/tokenizer/"
    else
      echo "run-on-gpu: $golden_src not found: no build/golden, the golden command will not run there" >&2
    fi
    total_mib=$(du -scm "$out_dir" "$root/build/golden" 2>/dev/null | tail -1 | cut -f1)
    [ "$total_mib" -lt 63 ] || { echo "run-on-gpu: build/gpu-check + build/golden are $total_mib MiB; the device tool carries 64 MiB at most" >&2; exit 1; }
    echo "run-on-gpu: $total_mib MiB in build/gpu-check and build/golden; carry both and run: tools/cuda/run-on-gpu.sh check; tools/cuda/run-on-gpu.sh golden"
    ;;
  golden)
    shift
    [ -x "$out_dir/iip-gpu-check" ] && [ -f "$root/build/golden/golden.safetensors" ] || { echo "run-on-gpu: carry build/gpu-check and build/golden (run 'prepare' where .NET is)" >&2; exit 1; }
    run_runner "${OUT:-/tmp}/gpu-golden${IIP_GPU_LOG_SUFFIX:-}.txt" --golden "$root/build/golden/model-ldm-fp16.safetensors" \
      "$root/build/golden/golden.safetensors" --tokenizer "$root/build/golden/tokenizer" "$@"
    ;;
  bench)
    shift
    [ -x "$out_dir/iip-gpu-check" ] || { echo "run-on-gpu: $out_dir/iip-gpu-check is missing: run 'prepare' where .NET is, and carry build/gpu-check" >&2; exit 1; }
    run_runner "${OUT:-/tmp}/gpu-bench${IIP_GPU_LOG_SUFFIX:-}.txt" --bench "$@"
    ;;
  all)
    # one device call: each part bounded so that a hang leaves time for the others; ${IIP_GPU_LIMITS:-} overrides "check golden bench" seconds
    read -r check_s golden_s bench_s <<<"${IIP_GPU_LIMITS:-200 60 200}"
    failed=0
    timeout "$check_s" bash "$0" check --reps 10 || { echo "run-on-gpu: check exit $?"; failed=1; }
    timeout "$golden_s" bash "$0" golden || { echo "run-on-gpu: golden exit $?"; failed=1; }
    timeout "$bench_s" bash "$0" bench --reps 10 || { echo "run-on-gpu: bench exit $?"; failed=1; }
    if [ "${IIP_GPU_CPASYNC:-1}" = 1 ]; then
      # the opt-in cp.async GEMM main loop (IIP_GEMM_PIPELINE=cp.async, unmeasured until here): check and speed; logs *-cpasync.txt
      IIP_GEMM_PIPELINE=cp.async IIP_GPU_LOG_SUFFIX=-cpasync timeout "$check_s" bash "$0" check --reps 10 || { echo "run-on-gpu: check (cp.async) exit $?"; failed=1; }
      IIP_GEMM_PIPELINE=cp.async IIP_GPU_LOG_SUFFIX=-cpasync timeout "$bench_s" bash "$0" bench --reps 10 || { echo "run-on-gpu: bench (cp.async) exit $?"; failed=1; }
    fi
    if [ "${IIP_GPU_CUBLAS:-1}" = 1 ]; then
      # the same with linear layers and convolutions on cuBLAS (opt-in until checked here); logs *-cublas.txt
      IIP_CUBLAS=1 IIP_GPU_LOG_SUFFIX=-cublas timeout "$check_s" bash "$0" check --reps 10 || { echo "run-on-gpu: check (cuBLAS) exit $?"; failed=1; }
      IIP_CUBLAS=1 IIP_GPU_LOG_SUFFIX=-cublas timeout "$golden_s" bash "$0" golden || { echo "run-on-gpu: golden (cuBLAS) exit $?"; failed=1; }
      IIP_CUBLAS=1 IIP_GPU_LOG_SUFFIX=-cublas timeout "$bench_s" bash "$0" bench --reps 10 || { echo "run-on-gpu: bench (cuBLAS) exit $?"; failed=1; }
    fi
    exit "$failed"
    ;;
  check)
    shift
    [ -x "$out_dir/iip-gpu-check" ] || { echo "run-on-gpu: $out_dir/iip-gpu-check is missing: run 'prepare' where .NET is, and carry build/gpu-check" >&2; exit 1; }
    command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
    run_runner "${OUT:-/tmp}/gpu-check${IIP_GPU_LOG_SUFFIX:-}.txt" "$@"
    ;;
  *)
    sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'
    exit 64
    ;;
esac
