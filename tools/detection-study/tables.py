"""Markdown tables for docs/detection.md and docs/benchmarks.md from `iip ablate` and `iip eval` outputs.

Usage: tables.py ablation RUNS NAME...            one row per ablation series, AUC / TPR@1%FPR per testbed, and the mean AUC
       tables.py methods RUNS NAME...             one row per (testbed, method): AUC, 95% CI, TPR@1%FPR (from scan-NAME/results-eval)
       tables.py matrix RUNS NAME...              the same as a matrix: a row per method, a column per testbed, "AUC [CI] TPR" per cell
       tables.py windows RUNS NAME=TESTBED...     MTCNP alone for several (t_I, window) choices, from the ablation's component records
       tables.py timestep-windows RUNS NAME=TESTBED...  MTCNP over windows of timesteps of the regeneration from t_I = 40, three summaries
       tables.py perimage RUNS NAME=TESTBED...    the duplicates the model memorized at the image level (RUNS/perimage/NAME.csv from
                                                  per-image-memorization.py) against the rest, scored by RUNS/scan-NAME/results.jsonl
RUNS/ablate-NAME/metrics.csv and RUNS/scan-NAME/results-eval/metrics.csv as `iip ablate` and `iip eval` write them."""
import csv, json, os, sys

kind, runs, names = sys.argv[1], sys.argv[2], sys.argv[3:]

def read(path):
    return list(csv.DictReader(open(path)))

# AUC as sklearn's roc_auc_score; TPR@1%FPR as iip eval: the positives above the 2nd-highest of 100 negatives
def auc(p, n): return sum((a > b) + 0.5 * (a == b) for a in p for b in n) / (len(p) * len(n))
def tpr(p, n): thr = sorted(n)[-2] if len(n) >= 100 else max(n); return sum(a > thr for a in p) / len(p)

if kind == "ablation":
    tables = {n: {r["method"]: r for r in read(f"{runs}/ablate-{n}/metrics.csv")} for n in names}
    order = []
    for n in names:
        for m in tables[n]:
            if m not in order: order.append(m)
    print("| series | " + " | ".join(names) + " | mean AUC |")
    print("| --- | " + " | ".join("---:" for _ in names) + " | ---: |")
    for m in order:
        cells, aucs = [], []
        for n in names:
            r = tables[n].get(m)
            if r is None: cells.append("-"); continue
            aucs.append(float(r["auc"]))
            cells.append(f"{float(r['auc']):.3f} / {float(r['tpr_at_fpr']):.2f}")
        print(f"| {m} | " + " | ".join(cells) + f" | {sum(aucs) / len(aucs):.3f} |")
elif kind in ("methods", "matrix"):
    # RUNS/paper-NAME/results-eval: the same testbed scanned with --preset paper, shown as "iip (paper preset)"
    import os
    order = ["iip", "iip-mtcnp", "iip-similarity", "ori-prompt", "denoising-loss", "pia", "pia-sd", "secmi", "secmi-sd"]
    key = lambda m: order.index(m) if m in order else (0.5 if m.startswith("iip (") else len(order))
    tables = {}
    for n in names:
        rows = {r["method"]: r for r in read(f"{runs}/scan-{n}/results-eval/metrics.csv")}
        paper = f"{runs}/paper-{n}/results-eval/metrics.csv"
        if os.path.exists(paper):
            rows.update({"iip (paper preset)": r for r in read(paper) if r["method"] == "iip"})
        tables[n] = rows
    if kind == "methods":
        print("| testbed | method | n+ / n- | AUC | 95% CI | TPR@1%FPR |")
        print("| --- | --- | ---: | ---: | --- | ---: |")
        for n, rows in tables.items():
            for m in sorted(rows, key=key):
                r = rows[m]
                print(f"| {n} | {m} | {r['positives']} / {r['negatives']} | {float(r['auc']):.3f} | "
                      f"[{float(r['auc_ci_low']):.3f}, {float(r['auc_ci_high']):.3f}] | {float(r['tpr_at_fpr']):.2f} |")
    else:
        methods = sorted({m for rows in tables.values() for m in rows}, key=key)
        print("| method | " + " | ".join(f"{n} ({next(iter(r.values()))['positives']} / {next(iter(r.values()))['negatives']})" for n, r in tables.items()) + " |")
        print("| --- | " + " | ".join("---" for _ in tables) + " |")
        for m in methods:
            cells = []
            for rows in tables.values():
                r = rows.get(m)
                cells.append("-" if r is None else f"{float(r['auc']):.3f} [{float(r['auc_ci_low']):.2f}, {float(r['auc_ci_high']):.2f}] {float(r['tpr_at_fpr']):.2f}")
            print(f"| {m} | " + " | ".join(cells) + " |")
elif kind == "windows":
    choices = [(20, "first", 10), (20, "late", 3), (20, "late", 4), (20, "late", 5), (20, "late", 10), (15, "late", 4), (10, "first", 10),
               (10, "late", 4), (5, "first", 5)]
    data = {}
    for arg in names:
        n, tb = arg.split("=", 1)
        sets = {json.loads(l)["image"]: json.loads(l)["set"] for l in open(f"{tb}/labels.jsonl")}
        comp = {}
        for l in open(f"{runs}/ablate-{n}/ablation-components.jsonl"):
            r = json.loads(l)
            if r["options"].startswith("tI=") and sets.get(r["image"]) in ("memorized", "heldout"):
                comp.setdefault(int(r["options"][3:]), {})[r["image"]] = (sets[r["image"]] == "memorized", r["tcnp"])
        data[n] = comp
    print("| t_I | MTCNP window | timesteps | " + " | ".join(data) + " | mean AUC | worst AUC | worst TPR |")
    print("| ---: | --- | --- | " + " | ".join("---:" for _ in data) + " | ---: | ---: | ---: |")
    for tI, window, steps in choices:
        idx = list(range(steps)) if window == "first" else list(range(tI - 1 - steps, tI - 1))
        ts = [1 + 20 * (tI - 1 - k) for k in idx]
        cells, aucs, tprs = [], [], []
        for n, comp in data.items():
            if tI not in comp: cells.append("-"); continue
            pos = [sum(t[k] for k in idx) / len(idx) for m, t in comp[tI].values() if m]
            neg = [sum(t[k] for k in idx) / len(idx) for m, t in comp[tI].values() if not m]
            a, b = auc(pos, neg), tpr(pos, neg); aucs.append(a); tprs.append(b)
            cells.append(f"{a:.3f} / {b:.2f}")
        print(f"| {tI} | {window} {steps} | t = {ts[0]} to {ts[-1]} | " + " | ".join(cells) +
              f" | {sum(aucs) / len(aucs):.3f} | {min(aucs):.3f} | {min(tprs):.2f} |")
elif kind == "timestep-windows":
    # MTCNP over windows of the regeneration from t_I = 40 (t = 781 down to 1, TCNP at each of its 40 steps), three
    # summaries per window: the mean TCNP, the mean ln TCNP, the mean per-step robust z of ln TCNP (median and 1.4826 MAD
    # over all the testbed's memorized and held-out images at that step: no labels used)
    import math, statistics
    steps = [781 - 20 * k for k in range(40)]
    windows = [(781, 1), (781, 401), (601, 201), (501, 101), (461, 101), (401, 101), (401, 201), (301, 101), (201, 61),
               (181, 21), (101, 21), (81, 21), (41, 1)]
    data = {}   # NAME -> (rows of (memorized?, ln TCNP per step), per-step centre, per-step spread)
    for arg in names:
        n, tb = arg.split("=", 1)
        sets = {json.loads(l)["image"]: json.loads(l)["set"] for l in open(f"{tb}/labels.jsonl")}
        rows = [(sets[r["image"]] == "memorized", [math.log(v) for v in r["tcnp"]])
                for r in map(json.loads, open(f"{runs}/ablate-{n}/ablation-components.jsonl"))
                if r["options"] == "tI=40" and sets.get(r["image"]) in ("memorized", "heldout")]
        centre = [statistics.median(r[k] for _, r in rows) for k in range(40)]
        spread = [1.4826 * statistics.median(abs(r[k] - centre[k]) for _, r in rows) for k in range(40)]
        data[n] = (rows, centre, spread)
    print("| timesteps | summary | " + " | ".join(data) + " | mean AUC | worst AUC |")
    print("| --- | --- | " + " | ".join("---:" for _ in data) + " | ---: | ---: |")
    for hi, lo in windows:
        idx = [k for k, t in enumerate(steps) if lo <= t <= hi]
        for summary in ("mean", "mean ln", "mean z"):
            cells, aucs = [], []
            for rows, centre, spread in data.values():
                def score(r):
                    if summary == "mean": return sum(math.exp(r[k]) for k in idx) / len(idx)
                    if summary == "mean ln": return sum(r[k] for k in idx) / len(idx)
                    return sum((r[k] - centre[k]) / spread[k] for k in idx) / len(idx)
                pos = [score(r) for m, r in rows if m]; neg = [score(r) for m, r in rows if not m]
                a = auc(pos, neg); aucs.append(a); cells.append(f"{a:.3f} / {tpr(pos, neg):.2f}")
            print(f"| t = {hi} to {lo} | {summary} | " + " | ".join(cells) + f" | {sum(aucs) / len(aucs):.3f} | {min(aucs):.3f} |")
elif kind == "perimage":
    # A duplicate counts as memorized at the image level when the model regenerates it from its caption closer than it
    # regenerates any held-out image from that image's own caption (generation error below the held-out minimum).
    methods = ["iip", "iip-fit", "denoising-loss", "ori-prompt"]
    def ranks(xs):
        order = sorted(range(len(xs)), key=lambda i: xs[i]); r = [0.0] * len(xs)
        for k, i in enumerate(order): r[i] = k
        return r
    def spearman(xs, ys):  # rank correlation (no ties in these continuous values)
        rx, ry = ranks(xs), ranks(ys); mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
        cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
        return cov / (sum((a - mx) ** 2 for a in rx) * sum((b - my) ** 2 for b in ry)) ** 0.5
    print("| testbed | duplicates | memorized at the image level | " +
          " | ".join(f"{m}: those; the rest" for m in methods) + " | rank correlation of iip's score with the generation error |")
    print("| --- | ---: | ---: | " + " | ".join("---" for _ in methods) + " | ---: |")
    for arg in names:
        n, tb = arg.split("=", 1)
        err = {r["image"]: (r["set"], float(r["generation_error"])) for r in read(f"{runs}/perimage/{n}.csv")}
        floor = min(e for s, e in err.values() if s == "heldout")
        scores = {}
        for l in open(f"{runs}/scan-{n}/results.jsonl"):
            r = json.loads(l)
            # records of a scan given the images by absolute path name them so; the labels name them relative to the testbed
            image = os.path.relpath(r["image"], tb) if os.path.isabs(r["image"]) else r["image"]
            if r.get("score") is not None: scores.setdefault(r["method"], {})[image] = r["score"]
        dup = [i for i, (s, _) in err.items() if s == "memorized"]
        held = [i for i, (s, _) in err.items() if s == "heldout"]
        verbatim = [i for i in dup if err[i][1] < floor]
        rest = [i for i in dup if err[i][1] >= floor]
        cells = []
        for m in methods:
            sc = scores.get(m)
            if sc is None: cells.append("-"); continue
            neg = [sc[i] for i in held]
            part = lambda ids: f"{auc([sc[i] for i in ids], neg):.3f} / {tpr([sc[i] for i in ids], neg):.2f}" if ids else "-"
            cells.append(f"{part(verbatim)}; {part(rest)}")
        rho = spearman([err[i][1] for i in dup], [scores["iip"][i] for i in dup])
        print(f"| {n} | {len(dup)} | {len(verbatim)} | " + " | ".join(cells) + f" | {rho:+.2f} |")
else:
    sys.exit(f"unknown table '{kind}': ablation, methods, matrix, windows or perimage")
