"""Per-image memorization of a testbed: how close the model regenerates each image from its own caption.

The testbed's training log measures memorization strength on the first 4 memorized captions only (its probe). This
measures every memorized and held-out image the same way, so that a detector's misses can be told apart: a duplicated
image the model cannot regenerate is trained but not memorized at the image level, the property IIP claims to detect.

Generation error (the probe's measure, ../shared/tools/testbed/train_testbed.py): from the image's caption, DDIM 20
steps, classifier-free guidance 7.5, two seeds (1000, 1001); the error is min over seeds of
||z_gen - z||_2 / ||z||_2, with z = VAE mean latent of the image times the scaling factor, shapes [4, h/8, w/8].

Usage (the testbed environment of ../shared/tools/testbed/README.md, with its iipref folder on the path too):
  PYTHONPATH=/tmp/testbed-env:../shared/tools/testbed:../shared/tools/testbed/iipref /usr/bin/python3 \\
  per-image-memorization.py TESTBED_DIR OUT.csv [--sets memorized,heldout]
Writes OUT.csv with image,set,generation_error (one row per image, labels.jsonl order).
"""
import argparse, csv, json, os
import torch
from diffusers import DDIMScheduler
from iip_ref import load, ids, image_tensor

ap = argparse.ArgumentParser()
ap.add_argument("testbed"); ap.add_argument("out")
ap.add_argument("--sets", default="memorized,heldout")
ap.add_argument("--guidance", type=float, default=7.5)
a = ap.parse_args()

unet, vae, te, _, sf = load(os.path.join(a.testbed, "model"))
sched = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
                      set_alpha_to_one=False, steps_offset=1)
sched.set_timesteps(20)
size = 8 * unet.config.sample_size
wanted = set(a.sets.split(","))
rows = [r for r in map(json.loads, open(os.path.join(a.testbed, "labels.jsonl"))) if r["set"] in wanted]

@torch.no_grad()
def generation_errors(batch):
    """Best-of-two-seeds latent relative error for a batch of labels rows; returns a list of floats."""
    z = torch.cat([vae.encode(image_tensor(os.path.join(a.testbed, r["image"]), size)).latent_dist.mean for r in batch]) * sf
    c = torch.cat([te(ids(r["caption"])) for r in batch]); n = len(batch)
    e0 = te(ids("")).expand(n, -1, -1)
    best = torch.full((n,), 9.0)
    for seed in (1000, 1001):
        lat = torch.randn(n, *z.shape[1:], generator=torch.Generator().manual_seed(seed))
        for t in sched.timesteps:
            eu, ec = unet(torch.cat([lat, lat]), int(t), encoder_hidden_states=torch.cat([e0, c])).sample.chunk(2)
            lat = sched.step(eu + a.guidance * (ec - eu), t, lat, eta=0.0).prev_sample
        best = torch.minimum(best, (lat - z).flatten(1).norm(dim=1) / z.flatten(1).norm(dim=1))
    return best.tolist()

tmp = a.out + ".tmp"
with open(tmp, "w", newline="") as f:
    w = csv.writer(f); w.writerow(["image", "set", "generation_error"])
    for i in range(0, len(rows), 16):
        batch = rows[i:i + 16]
        for r, e in zip(batch, generation_errors(batch)):
            w.writerow([r["image"], r["set"], f"{e:.4f}"])
        print(f"{min(i + 16, len(rows))}/{len(rows)}", flush=True)
os.replace(tmp, a.out)
