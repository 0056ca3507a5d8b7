"""Training: phases, the GAN-agnostic trainer, EMA, checkpoints, statistics and the on-disk run."""
