#!/usr/bin/env python3
"""MTCNP over other windows of the regeneration, read off `iip ablate`'s per-step records (no model run).

Usage: mtcnp-windows.py ABLATE_DIR...   (each the --out folder of an `iip ablate` run; its name ends in the testbed's)

For the `tI=40` records (the regeneration from t = 781 down to t = 1 on the 50-step grid, TCNP at each of its 40 steps)
it scores every image by three summaries of TCNP over a window of timesteps [lo, hi]: the mean, the mean of ln TCNP, and
the mean per-step robust z of ln TCNP (median and 1.4826 MAD over all the scored images at that step), and prints the
AUC / TPR@1%FPR of memorized against held-out per testbed, with the mean and worst AUC over the testbeds.
AUC as sklearn's roc_auc_score (ties count one half); TPR@1%FPR as `iip eval` (the largest TPR at FPR <= 1%).
"""
import json
import os
import sys

import numpy as np

STEPS = [781 - 20 * i for i in range(40)]          # the regeneration's timesteps from t_I = 40
WINDOWS = [(781, 1), (781, 401), (601, 201), (501, 101), (461, 101), (401, 101), (401, 201), (301, 101),
           (201, 61), (181, 21), (101, 21), (81, 21), (41, 1)]


def auc(pos, neg):
    pos, neg = np.asarray(pos)[:, None], np.asarray(neg)[None, :]
    return float((pos > neg).mean() + 0.5 * (pos == neg).mean())


def tpr_at_1pct(pos, neg):
    neg = np.sort(np.asarray(neg))[::-1]
    allowed = int(np.floor(0.01 * len(neg)))          # false positives allowed at FPR <= 1%
    threshold = neg[allowed]                           # scores must be above it
    return float((np.asarray(pos) > threshold).mean())


def load(ablate_dir):
    pos, neg = [], []
    with open(os.path.join(ablate_dir, "ablation-components.jsonl")) as f:
        for line in f:
            r = json.loads(line)
            if r["options"] != "tI=40" or r["tcnp"] is None:
                continue
            split = r["image"].split("/")[0]
            (pos if split == "memorized" else neg if split == "heldout" else []).append(r["tcnp"])
    if not pos or not neg:
        sys.exit(f"{ablate_dir}: no tI=40 records of memorized and held-out images")
    return np.log(np.array(pos)), np.log(np.array(neg))


def main(dirs):
    data = {os.path.basename(d.rstrip("/")).removeprefix("ablate-"): load(d) for d in dirs}
    print("window summary", *data, "mean worst", sep=" | ")
    for hi, lo in WINDOWS:
        idx = [i for i, t in enumerate(STEPS) if lo <= t <= hi]
        for summary in ("mean", "mean ln", "mean z"):
            cells, aucs = [], []
            for log_pos, log_neg in data.values():
                both = np.vstack([log_pos, log_neg])[:, idx]
                centre = np.median(both, 0)
                spread = 1.4826 * np.median(np.abs(both - centre), 0)
                def score(logs):
                    w = logs[:, idx]
                    return {"mean": np.exp(w).mean(1), "mean ln": w.mean(1), "mean z": ((w - centre) / spread).mean(1)}[summary]
                p, n = score(log_pos), score(log_neg)
                aucs.append(auc(p, n))
                cells.append(f"{aucs[-1]:.3f} / {tpr_at_1pct(p, n):.2f}")
            print(f"t = {hi} to {lo}", summary, *cells, f"{np.mean(aucs):.3f} {min(aucs):.3f}", sep=" | ")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
