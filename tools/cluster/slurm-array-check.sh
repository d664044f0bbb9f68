#!/usr/bin/env bash
# The cluster path for real (issue 17): deploy/slurm-scan.sbatch as a 4-task Slurm job array on the one-node Slurm of
# tools/cluster/slurm-local.sh, on the CPU, over 20 testbed images; `iip merge` of the four shard files must give the
# unsharded scan's scores exactly. Run after `dotnet build IIP.sln -c Release`. Prints PASS or FAIL; exit 0 on PASS.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
iip="$root/src/IIP.Cli/bin/Release/net10.0/iip"
[ -x "$iip" ] || { echo "slurm-array-check: build first (dotnet build IIP.sln -c Release)" >&2; exit 2; }
eval "$(bash "$root/tools/cluster/slurm-local.sh" start | grep '^export SLURM_CONF=')"
work=$(mktemp -d /tmp/iip-slurm-check.XXXXXX)
testbed="$root/data/testbed"
{ grep '"memorized/' "$testbed/labels.jsonl" | head -10; grep '"heldout/' "$testbed/labels.jsonl" | head -10; } \
  | sed "s#\"image\": \"#\"image\": \"$testbed/#" > "$work/images.jsonl"
methods=denoising-loss,pia,secmi

"$iip" scan --model "$testbed/model" --images "$work/images.jsonl" --out "$work/whole/results.jsonl" --method "$methods" > "$work/whole.log" 2>&1 || { cat "$work/whole.log"; exit 1; }
MODEL="$testbed/model" IMAGES="$work/images.jsonl" OUT="$work/sharded" IIP="$iip" DEVICE=cpu IIP_SCAN_ARGS="--method $methods" \
  sbatch --array=0-3 --wait --cpus-per-task=1 --mem=2G --output="$work/task-%a.log" "$root/deploy/slurm-scan.sbatch" >/dev/null
grep -h "^shard" "$work"/task-*.log || true
"$iip" merge "$work"/sharded/results.shard-*.jsonl --out "$work/merged.jsonl"
python3 - "$work/whole/results.jsonl" "$work/merged.jsonl" <<'PY'
import json, sys
def scores(p): return {(r["image"], r["method"]): r["score"] for r in map(json.loads, open(p))}
a, b = scores(sys.argv[1]), scores(sys.argv[2])
same = a == b
print(f"unsharded {len(a)} records, merged {len(b)}: {'PASS identical scores' if same else 'FAIL scores differ'}")
sys.exit(0 if same else 1)
PY
