"""Model families: each registers a config dataclass whose ``build(spec)`` returns (generator, discriminator)."""

from ganforge.models import dcgan, mlp  # noqa: F401  (registration)
