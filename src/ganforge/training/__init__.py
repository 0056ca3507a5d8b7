"""Training: phases, the GAN-agnostic trainer, EMA, checkpoints, statistics and the on-disk run.

Owns: the run loop (``Run``), the trainer, the run directory and its records (the checkpoint layout is
``ganforge.checkpoint``'s, just above data). Knows no GAN family, data kind or metric: the data kind's samples and
evaluation are looked up at run time (``kinds.hooks_for``).
May import: ``registry``, ``config``, ``options``, ``outputs``, ``preflight``, ``data`` (the batch stream),
``checkpoint``, ``models`` (the network contract), ``losses`` (the objective contract) and ``builder``; ``kinds`` only
at run time (a registry). report.html is written by the caller's ``report`` callback (``Run(..., report=...)``).
"""
