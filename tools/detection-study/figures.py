"""The cross-testbed figures and tables of docs/detection.md, from `iip ablate` and `iip scan` + `iip eval` outputs.

Usage: figures.py RUNS OUT NAME=TESTBED_DIR[@STRENGTH] ...
  RUNS/ablate-NAME/   an `iip ablate --sets memorized,heldout` output (metrics.csv, auc-by-timestep.csv)
  RUNS/scan-NAME/     an `iip scan` of every method (results.jsonl) and its `iip eval --sets memorized,heldout` (results-eval/)
  TESTBED_DIR         the testbed (labels.jsonl, train.log with the last probe line: memorization strength)
Writes OUT/auc-by-inversion-steps.png, auc-by-timestep.png, auc-by-memorization.png, scores-NAME.png and summary.csv.
Testbeds named cv* (v-prediction) are drawn apart in auc-by-memorization.png (iip and fit-gain, their default, as markers),
and their scores-NAME.png show fit-gain's scores (the default `iip scan` runs on a v-prediction model) instead of iip's.
A testbed named here without RUNS/scan-NAME keeps its rows of the OUT/summary.csv already there (models trained in an
earlier session and not kept), and they are drawn with the rest.
Needs numpy and matplotlib (Debian: python3-numpy python3-matplotlib)."""
import csv, json, os, re, sys
import numpy as np
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

runs, out = sys.argv[1], sys.argv[2]
testbeds, given_strength = {}, {}
for a in sys.argv[3:]:   # NAME=DIR, or NAME=DIR@STRENGTH for a testbed without probe lines (v1: from its README)
    name, rest = a.split("=", 1)
    path, _, value = rest.partition("@")
    testbeds[name] = path
    if value: given_strength[name] = float(value)
os.makedirs(out, exist_ok=True)

def metrics(path):
    return {r["method"]: r for r in csv.DictReader(open(path))} if os.path.exists(path) else {}

def strength(name, tb):
    """memorization strength: latent error of generations from held-out captions over that of memorized ones (final probe, guidance 7.5)"""
    if name in given_strength: return given_strength[name]
    probes = [l for l in open(os.path.join(tb, "train.log")) if l.startswith("probe step")]
    if not probes: return None
    vals = dict(re.findall(r"(\w+)@7.5 ([0-9.]+)", probes[-1]))
    return float(vals["heldout"]) / float(vals["memorized"])

# AUC against t_I: IIP's MTCNP and the combined score (ablation series), one line per testbed
fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
for name in testbeds:
    m = metrics(f"{runs}/ablate-{name}/metrics.csv")
    if not m: continue   # no ablation of this testbed
    steps = sorted(int(k.split("=")[1]) for k in m if k.startswith("iip tI="))
    default = [k for k in m if k.startswith("iip tI=") and f"mtcnp-only tI={k.split('=')[1]}" not in m]
    dflt = int(default[0].split("=")[1]) if default else None
    mt = [float(m["mtcnp-only" if s == dflt else f"mtcnp-only tI={s}"]["auc"]) for s in steps]
    ip = [float(m[f"iip tI={s}"]["auc"]) for s in steps]
    axes[0].plot(steps, mt, marker="o", label=name); axes[1].plot(steps, ip, marker="o", label=name)
for ax, title in zip(axes, ["MTCNP alone (the 4 steps before the last; fewer where t_I < 5)", "IIP combined (scales of the held-out images)"]):
    ax.axhline(0.5, color="gray", ls="--", lw=1); ax.set_xlabel("t_I (inversion steps; regeneration starts at t = 1 + 20 (t_I - 1))")
    ax.set_title(title); ax.grid(alpha=0.3)
axes[0].set_ylabel("AUC, memorized vs held-out"); axes[1].legend(fontsize=8)
fig.tight_layout(); fig.savefig(f"{out}/auc-by-inversion-steps.png", dpi=110); plt.close(fig)

# AUC of TCNP at each timestep of the regeneration from t_I = 40
fig, ax = plt.subplots(figsize=(7, 4))
for name in testbeds:
    p = f"{runs}/ablate-{name}/auc-by-timestep.csv"
    if not os.path.exists(p): continue
    rows = list(csv.DictReader(open(p)))
    ax.plot([int(r["timestep"]) for r in rows], [float(r["auc"]) for r in rows], marker=".", label=name)
ax.axhline(0.5, color="gray", ls="--", lw=1); ax.invert_xaxis(); ax.grid(alpha=0.3)
ax.set_xlabel("timestep t of the regeneration step (from t_I = 40, t = 781, down to 1)"); ax.set_ylabel("AUC of TCNP_t")
ax.set_title("Where along the regeneration TCNP separates memorized images"); ax.legend(fontsize=8)
fig.tight_layout(); fig.savefig(f"{out}/auc-by-timestep.png", dpi=110); plt.close(fig)

# AUC against memorization strength, per method, and the summary table
methods = ["iip", "iip-mtcnp", "iip-similarity", "ori-prompt", "denoising-loss", "pia", "secmi", "pia-sd", "secmi-sd", "fit-gain", "iip-fit"]
rows, points = [], {m: [] for m in methods}
vpoints = {"iip": [], "fit-gain": []}   # the v-prediction testbeds (cv*), drawn apart: another objective, not another strength
def add_point(name, method, s, auc):
    if name.startswith("cv"):
        if method in vpoints: vpoints[method].append((s, auc))
    else: points[method].append((s, auc))
earlier = list(csv.DictReader(open(f"{out}/summary.csv"))) if os.path.exists(f"{out}/summary.csv") else []
for name, tb in testbeds.items():
    m = metrics(f"{runs}/scan-{name}/results-eval/metrics.csv")
    if not m:   # no scan here: the rows of the summary written before
        kept = [r for r in earlier if r["testbed"] == name]
        for r in kept:
            rows.append([r[k] for k in ["testbed", "strength", "method", "positives", "negatives", "auc", "auc_ci_low", "auc_ci_high", "tpr_at_1pct_fpr"]])
            if r["strength"] and r["method"] in points: add_point(name, r["method"], float(r["strength"]), float(r["auc"]))
        continue
    s = strength(name, tb)
    for method in methods:
        if method not in m: continue
        r = m[method]
        rows.append([name, f"{s:.2f}" if s else "", method, r["positives"], r["negatives"], f"{float(r['auc']):.3f}",
                     f"{float(r['auc_ci_low']):.3f}", f"{float(r['auc_ci_high']):.3f}", f"{float(r['tpr_at_fpr']):.2f}"])
        if s: add_point(name, method, s, float(r["auc"]))
with open(f"{out}/summary.csv", "w", newline="") as f:
    w = csv.writer(f); w.writerow(["testbed", "strength", "method", "positives", "negatives", "auc", "auc_ci_low", "auc_ci_high", "tpr_at_1pct_fpr"]); w.writerows(rows)
fig, ax = plt.subplots(figsize=(9, 4.5))
for method, pts in points.items():
    if not pts: continue
    pts.sort(); ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=method, lw=2.5 if method == "iip" else 1,
                        ls="--" if method in ("fit-gain", "iip-fit") else "-")   # the methods beyond the paper (colours repeat after ten)
for method, marker, colour in [("iip", "X", "black"), ("fit-gain", "P", "tab:green")]:
    if vpoints[method]:
        ax.scatter([p[0] for p in vpoints[method]], [p[1] for p in vpoints[method]], marker=marker, s=80, color=colour, zorder=5,
                   label=f"{method}, v-prediction testbeds" + (" (their default)" if method == "fit-gain" else ""))
ax.axhline(0.5, color="gray", ls="--", lw=1); ax.grid(alpha=0.3); ax.set_ylim(0, 1.02)
ax.set_xlabel("memorization strength: held-out / memorized latent error of generations from their captions")
ax.set_ylabel("AUC, memorized vs held-out"); ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5)); ax.set_title("Detection against memorization strength")
fig.tight_layout(); fig.savefig(f"{out}/auc-by-memorization.png", dpi=110); plt.close(fig)

# score distributions of the default method per set (iip; fit-gain on the v-prediction testbeds), for each testbed with a scan
for name, tb in testbeds.items():
    shown = "fit-gain" if name.startswith("cv") else "iip"
    p = f"{runs}/scan-{name}/results.jsonl"
    if not os.path.exists(p): continue
    sets = {json.loads(l)["image"]: json.loads(l)["set"] for l in open(os.path.join(tb, "labels.jsonl"))}
    scores = {}
    for l in open(p):
        r = json.loads(l)
        if r["method"] == shown and r.get("score") is not None:
            key = os.path.relpath(r["path"], tb) if r.get("path") else r["image"]
            scores[key] = r["score"]
    fig, ax = plt.subplots(figsize=(7, 4))
    allv = list(scores.values()); bins = np.linspace(min(allv), max(allv), 40)
    for s, c in [("heldout", "tab:blue"), ("train_unique", "tab:green"), ("memorized", "tab:red")]:
        v = [x for k, x in scores.items() if sets.get(k) == s]
        if not v: continue   # a set the scan left out
        ax.hist(v, bins=bins, alpha=0.5, color=c, label=f"{s} (n = {len(v)})", density=True)
    ax.set_xlabel("iip score (robust z-units of the calibration images; higher = more likely memorized)" if shown == "iip" else
                  "fit-gain score: ln L(empty prompt) - ln L(fitted prompt) (higher = more likely memorized)"); ax.set_ylabel("density")
    ax.set_title(f"{name}: default {shown} score by set"); ax.legend(fontsize=8)
    fig.tight_layout(); fig.savefig(f"{out}/scores-{name}.png", dpi=110); plt.close(fig)
print("wrote", out)
