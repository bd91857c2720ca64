"""Models and tasks registered from outside seqbench.

A model or a task is one registry entry (``seqbench.models.MODELS``, ``seqbench.tasks.TASKS``).
A user who keeps theirs in their own module, rather than in a fork of seqbench, names it in
the environment::

    SEQBENCH_EXTENSIONS=my_models,my_tasks seqbench run --profile smoke --models my-rnn

Each named module is imported once and registers its entries when imported. Every process of
a run needs them, so the CLI imports them before it parses the user's names, and the pytest
plugin imports them before it reads the plan (worker processes are forks and inherit them).
"""

from __future__ import annotations

import importlib
import os

from seqbench.errors import SeqbenchError

ENV_VAR = "SEQBENCH_EXTENSIONS"


def load_extensions() -> tuple[str, ...]:
    """Import every module named in SEQBENCH_EXTENSIONS (comma-separated); return their names.
    A module that cannot be imported is a one-line error, not a traceback."""
    names = tuple(n.strip() for n in os.environ.get(ENV_VAR, "").split(",") if n.strip())
    for name in names:
        try:
            importlib.import_module(name)
        except Exception as exc:  # any failure of a user's module is the user's to see
            raise SeqbenchError(
                f"{ENV_VAR}: cannot import {name!r}: {type(exc).__name__}: {exc}"
            ) from None
    return names
