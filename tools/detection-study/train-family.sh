#!/usr/bin/env bash
# Trains the testbed family of docs/detection.md with ../shared/tools/testbed/train_testbed.py (PyTorch on the CPU; set up
# its environment first as ../shared/tools/testbed/README.md says). Usage: train-family.sh OUT_DIR [NAME...]
# Dev testbeds (d*) chose the defaults; check testbeds (c*) were trained with their own VAE and looked at only once the
# defaults were fixed. d* reuse testbed-v2's VAE (saved as vae.pt) to save its 7 minutes of training.
# Each takes 15 to 30 minutes on one core; two can run at once (THREADS=1 each).
set -euo pipefail
out=${1:?usage: train-family.sh OUT_DIR [NAME...]}; shift
here=$(cd "$(dirname "$0")" && pwd); shared=$(cd "$here/../../../shared" && pwd)
tools=$shared/tools/testbed
declare -A recipe=(
  [d1]="1 --seed 31 --scene-salt 1000 --n-mem 10 --mem-frac 0.5 --unet-steps 3000"
  [d2]="1 --seed 32 --scene-salt 1100 --n-mem 20 --mem-frac 0.5 --unet-steps 3000"
  [d3]="1 --seed 33 --scene-salt 1200 --n-mem 10 --mem-frac 0.25 --unet-steps 2000"
  [d4]="1 --seed 34 --scene-salt 1300 --n-mem 40 --mem-frac 0.5 --unet-steps 3000"
  [c1]="0 --seed 41 --scene-salt 2000 --n-mem 10 --mem-frac 0.5 --vae-steps 1500 --unet-steps 3000"
  [c2]="0 --seed 42 --scene-salt 2100 --n-mem 16 --mem-frac 0.4 --vae-steps 1500 --unet-steps 2500"
  [c3]="0 --seed 43 --scene-salt 2200 --n-mem 5 --mem-frac 0.3 --vae-steps 1500 --unet-steps 2500"
  [c4]="0 --seed 44 --scene-salt 2300 --n-mem 12 --mem-frac 0.35 --vae-steps 1500 --unet-steps 2500"
  [c5]="0 --seed 45 --scene-salt 2400 --n-mem 24 --mem-frac 0.5 --vae-steps 1500 --unet-steps 2500"
  [c6]="0 --seed 46 --scene-salt 2500 --n-mem 8 --mem-frac 0.4 --vae-steps 1500 --unet-steps 2500"
  [c7]="0 --seed 47 --scene-salt 2600 --n-mem 16 --mem-frac 0.3 --vae-steps 1500 --unet-steps 2000"
  [c8]="0 --seed 48 --scene-salt 2700 --n-mem 6 --mem-frac 0.5 --vae-steps 1500 --unet-steps 3000"
  [c9]="0 --seed 49 --scene-salt 2800 --n-mem 10 --mem-frac 0.4 --vae-steps 1500 --unet-steps 2500"
  [c10]="0 --seed 50 --scene-salt 2900 --n-mem 20 --mem-frac 0.35 --vae-steps 1500 --unet-steps 2500"
  [c11]="0 --seed 51 --scene-salt 3000 --n-mem 30 --mem-frac 0.3 --vae-steps 1500 --unet-steps 2500"
  [c12]="0 --seed 52 --scene-salt 3100 --n-mem 8 --mem-frac 0.25 --vae-steps 1500 --unet-steps 2000"
  [c13]="0 --seed 53 --scene-salt 3200 --n-mem 12 --mem-frac 0.5 --vae-steps 1500 --unet-steps 3000"
  [c14]="0 --seed 54 --scene-salt 3300 --n-mem 40 --mem-frac 0.4 --vae-steps 1500 --unet-steps 2500"
  [c15]="0 --seed 55 --scene-salt 3400 --n-mem 16 --mem-frac 0.35 --vae-steps 1500 --unet-steps 2500"
  [c16]="0 --seed 56 --scene-salt 3500 --n-mem 24 --mem-frac 0.3 --vae-steps 1500 --unet-steps 2500"
  [c17]="0 --seed 57 --scene-salt 3600 --n-mem 10 --mem-frac 0.5 --vae-steps 1500 --unet-steps 3000"
  [c18]="0 --seed 58 --scene-salt 3700 --n-mem 14 --mem-frac 0.4 --vae-steps 1500 --unet-steps 2500"
  [c19]="0 --seed 59 --scene-salt 3800 --n-mem 20 --mem-frac 0.5 --vae-steps 1500 --unet-steps 3000"
  [c20]="0 --seed 60 --scene-salt 3900 --n-mem 12 --mem-frac 0.5 --vae-steps 1500 --unet-steps 3000"
  # v-prediction (SD 2.x's objective and linear projections: train-vpred-testbed.py), recipes like testbed-v2's
  [cv1]="0 --seed 61 --scene-salt 4000 --n-mem 10 --mem-frac 0.5 --vae-steps 1500 --unet-steps 3000"
  [cv2]="0 --seed 62 --scene-salt 4100 --n-mem 14 --mem-frac 0.4 --vae-steps 1500 --unet-steps 2500"
  [cv3]="0 --seed 63 --scene-salt 4200 --n-mem 20 --mem-frac 0.5 --vae-steps 1500 --unet-steps 3000"
  [cv4]="0 --seed 64 --scene-salt 4300 --n-mem 12 --mem-frac 0.5 --vae-steps 1500 --unet-steps 3000"
  [cv5]="0 --seed 65 --scene-salt 4400 --n-mem 10 --mem-frac 0.4 --vae-steps 1500 --unet-steps 2500"
  [cv6]="0 --seed 66 --scene-salt 4500 --n-mem 16 --mem-frac 0.35 --vae-steps 1500 --unet-steps 2500"
  [cv7]="0 --seed 67 --scene-salt 4600 --n-mem 8 --mem-frac 0.5 --vae-steps 1500 --unet-steps 3000"
  [cv8]="0 --seed 68 --scene-salt 4700 --n-mem 24 --mem-frac 0.4 --vae-steps 1500 --unet-steps 2500"
  [cv9]="0 --seed 69 --scene-salt 4800 --n-mem 6 --mem-frac 0.3 --vae-steps 1500 --unet-steps 2000"
  [cv10]="0 --seed 70 --scene-salt 4900 --n-mem 30 --mem-frac 0.5 --vae-steps 1500 --unet-steps 3000"
)
names=("$@"); [ ${#names[@]} -gt 0 ] || names=(d1 d2 d3 d4 c1 c2 c3 c4 c5 c6 c7 c8)
export PYTHONPATH=${PYTHONPATH:-/tmp/testbed-env}:$tools THREADS=${THREADS:-1} OMP_WAIT_POLICY=PASSIVE GOMP_SPINCOUNT=0
for name in "${names[@]}"; do
  read -r shared_vae args <<< "${recipe[$name]}"
  dir=$out/$name; mkdir -p "$dir"
  if [ "$shared_vae" = 1 ] && [ ! -f "$dir/vae.pt" ]; then
    /usr/bin/python3 -c "import sys, torch; from safetensors.torch import load_file; torch.save(load_file(sys.argv[1]), sys.argv[2])" \
      "$shared/testbed-v2/model/vae/diffusion_pytorch_model.safetensors" "$dir/vae.pt"
  fi
  # shellcheck disable=SC2086
  trainer=$tools/train_testbed.py; [[ $name == cv* ]] && trainer=$here/train-vpred-testbed.py
  /usr/bin/python3 "$trainer" "$dir" $args --probe-every 1000
  cp -r "$shared/testbed-v2/model/tokenizer" "$shared/testbed-v2/model/model_index.json" "$dir/model/"
done
