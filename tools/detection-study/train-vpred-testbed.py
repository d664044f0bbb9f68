"""Train a testbed whose model predicts v, as SD 2.x's 768-v models do, instead of the noise: the shared trainer
(../shared/tools/testbed/train_testbed.py, run unchanged apart from the two lines named below) with
  - the training target v = sqrt(a_t) eps - sqrt(1 - a_t) z0 (Salimans & Ho 2022; diffusers' DDPMScheduler.get_velocity)
    in place of the noise eps,
  - prediction_type "v_prediction" in the scheduler config it writes and in the DDIM scheduler of its memorization
    probe (so the probe's generations, and the memorization strength read from them, treat the output as v),
  - use_linear_projection in the UNet (SD 2.x's transformer blocks project tokens with Linear layers, not 1x1
    convolutions).
Everything else (scenes, labelled sets, duplicates, the VAE, the text encoder) is the shared trainer's. Usage: as
train_testbed.py (OUT_DIR and its options); the environment is the testbed's (../shared/tools/testbed/README.md).
This is a study tool that makes data for docs/detection.md; it is not part of the product."""
import os, sys

import tinysd

trainer = os.path.join(os.path.dirname(os.path.abspath(tinysd.__file__)), "train_testbed.py")
source = open(trainer).read()
noise_target = "loss = F.mse_loss(unet(zt, t, encoder_hidden_states=c).sample, noise)"
v_target = "loss = F.mse_loss(unet(zt, t, encoder_hidden_states=c).sample, noise_sched.get_velocity(z, noise, t))"
if source.count(noise_target) != 1:
    sys.exit(f"{trainer}: the training loss line this script replaces was not found once; the trainer has changed")
tinysd.SCHED_CFG["prediction_type"] = "v_prediction"   # the same dict train_testbed imports: probe and saved config
tinysd.UNET_CFG["use_linear_projection"] = True
sys.argv[0] = trainer
exec(compile(source.replace(noise_target, v_target), trainer, "exec"), {"__name__": "__main__", "__file__": trainer})
