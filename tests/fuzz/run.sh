#!/usr/bin/env bash
# Coverage-guided fuzzing of IIP's parsers: SharpFuzz instruments the assemblies, AFL++ drives them (README.md here).
#
#   tests/fuzz/run.sh [TARGET|all] [SECONDS]     TARGET: safetensors iipw image manifest results labels (default all, 60 s each)
#
# Installs what it needs when missing (Debian's afl++, the sharpfuzz dotnet tool 2.3.0), publishes tests/fuzz/IIP.Fuzz
# into $IIP_FUZZ_WORK (default /tmp/iip-fuzz), instruments the parser namespaces of IIP.Engine and IIP.Detection and StbImageSharp there
# (never the repository's own build output), runs afl-fuzz for SECONDS per target from tests/fuzz/corpus/TARGET, and
# prints executions, paths and crashes per target. Crashing inputs stay in $IIP_FUZZ_WORK/findings/TARGET/default/crashes;
# each is replayed outside AFL with its exception and stack trace. A crash found: fix the parser, copy the input to
# tests/fuzz/regressions/TARGET/, and add a unit test (FuzzCorpusTests replays every regression file).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
all_targets=(safetensors iipw image manifest results labels)
target=${1:-all}
seconds=${2:-60}
work=${IIP_FUZZ_WORK:-/tmp/iip-fuzz}
if [[ $target == all ]]; then targets=("${all_targets[@]}"); else targets=("$target"); fi
for t in "${targets[@]}"; do
    [[ " ${all_targets[*]} " == *" $t "* ]] || { echo "unknown target '$t' (targets: ${all_targets[*]})" >&2; exit 2; }
done

# --- tools, installed once ------------------------------------------------------------------------------------------
if ! command -v afl-fuzz >/dev/null; then
    sudo=""; [[ $(id -u) -eq 0 ]] || sudo=sudo
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq afl++ >/dev/null
fi
export PATH="$PATH:$HOME/.dotnet/tools"
if ! command -v sharpfuzz >/dev/null; then
    dotnet tool install --global SharpFuzz.CommandLine --version 2.3.0 >/dev/null
fi

# --- build and instrument, in a fresh folder every time (sharpfuzz rewrites the .dll in place, once) -----------------
rm -rf "$work/bin"
mkdir -p "$work"
dotnet publish "$here/IIP.Fuzz/IIP.Fuzz.csproj" -c Release -o "$work/bin" --nologo -v quiet
# an uninstrumented copy replays crashes outside AFL (instrumented code needs SharpFuzz's trace buffer, set up only by Fuzzer.Run)
rm -rf "$work/plain"
cp -r "$work/bin" "$work/plain"
sharpfuzz "$work/bin/IIP.Engine.dll" IIP.Engine.Weights IIP.Engine.Imaging
sharpfuzz "$work/bin/IIP.Detection.dll" IIP.Detection.Scanning IIP.Detection.Evaluation
sharpfuzz "$work/bin/StbImageSharp.dll"

# --- fuzz --------------------------------------------------------------------------------------------------------------
export AFL_SKIP_BIN_CHECK=1                      # the binary is `dotnet`; the coverage comes from the instrumented .dll
export AFL_NO_UI=1
export AFL_SKIP_CPUFREQ=1
export AFL_NO_AFFINITY=1                         # shared machines: do not insist on a free core
export AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1   # containers cannot change core_pattern; crashes are exit codes here
export AFL_FORKSRV_INIT_TMOUT=120000             # the .NET runtime starts slowly
summary=()
for t in "${targets[@]}"; do
    out="$work/findings/$t"
    rm -rf "$out" "$out.log"
    mkdir -p "$work/findings"
    echo "== $t: ${seconds}s of afl-fuzz from $(ls "$here/corpus/$t" | wc -l) seeds"
    # -t: per-input timeout in ms (the largest images take a while on a loaded machine); -m none: the CLR reserves a lot
    afl-fuzz -i "$here/corpus/$t" -o "$out" -x "$here/dict/iip.dict" -t 10000 -m none -V "$seconds" \
        -- dotnet "$work/bin/IIP.Fuzz.dll" "$t" > "$out.log" 2>&1 || { echo "afl-fuzz failed for $t; its log:"; tail -30 "$out.log"; exit 1; }
    stats="$out/default/fuzzer_stats"
    value() { awk -F' *: *' -v k="$1" '$1 == k { print $2 }' "$stats"; }
    crashes=$(value saved_crashes); crashes=${crashes:-$(value unique_crashes)}
    hangs=$(value saved_hangs); hangs=${hangs:-$(value unique_hangs)}
    line=$(printf '%-12s executions %8s  (%s/s)  paths %5s  crashes %s  hangs %s' "$t" "$(value execs_done)" "$(value execs_per_sec)" \
        "$(value corpus_count)" "$crashes" "$hangs")
    echo "$line"
    summary+=("$line")
    shopt -s nullglob
    found=("$out"/default/crashes/id:*)
    shopt -u nullglob
    if (( ${#found[@]} > 0 )); then
        echo "-- replaying the ${#found[@]} crashing input(s) of $t outside AFL:"
        dotnet "$work/plain/IIP.Fuzz.dll" check "$t" "${found[@]}" || true
    fi
done

echo
echo "== summary ($(date -u +%Y-%m-%d), $(nproc) cores, ${seconds}s per target)"
printf '%s\n' "${summary[@]}"
