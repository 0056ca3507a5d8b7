"""Losses (pure functions of logits), penalties and the objectives that compose them."""

from ganforge.losses import gan_objectives, mmd, objectives  # noqa: F401  (registration)
