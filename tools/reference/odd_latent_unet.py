"""Reference UNet outputs on latents whose sides are not multiples of 8, computed by diffusers 0.25 (PyTorch, CPU, fp32).

diffusers' UNet2DConditionModel takes any latent size: its down path's stride-2 convolutions round odd sizes up, and its
up path then interpolates to each skip connection's size (forward_upsample_size). This writes, for the tiny SD v1 and SD
2.x golden models of data/golden, one latent of 13 x 10 (odd at two levels, not a multiple of 8), its context and the
UNet's output at t = 501, to tests/data/odd-latent-unet.safetensors, which IIP.Engine.Tests compares the engine against.

Run from the repository root, in the Python environment ../shared/tools/testbed/setup.sh lays out:
    PYTHONPATH=/tmp/testbed-env /usr/bin/python3 tools/reference/odd_latent_unet.py
Not part of the build: the committed file is the data, this script is how it was made.
"""
import torch
from diffusers import UNet2DConditionModel
from safetensors.torch import save_file

torch.manual_seed(20261207)
out = {}
for name in ["tiny-sd", "tiny-sd2"]:
    unet = UNet2DConditionModel.from_pretrained(f"data/golden/{name}/model", subfolder="unet", torch_dtype=torch.float32).eval()
    x = torch.randn(1, unet.config.in_channels, 13, 10)
    context = torch.randn(1, 77, unet.config.cross_attention_dim)
    with torch.no_grad():
        eps = unet(x, 501, encoder_hidden_states=context).sample
    out[f"{name}.x"] = x
    out[f"{name}.ctx"] = context
    out[f"{name}.eps.t501"] = eps
    print(name, tuple(eps.shape), float(eps.abs().max()))
save_file(out, "tests/data/odd-latent-unet.safetensors",
          metadata={"made_by": "tools/reference/odd_latent_unet.py", "diffusers": "0.25.1", "torch": torch.__version__})
