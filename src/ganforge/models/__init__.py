"""Model families: each registers a config dataclass whose ``build(spec)`` returns (generator, discriminator)."""

from ganforge.models import mlp  # noqa: F401  (registration)
