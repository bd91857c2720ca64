"""User-facing errors: the CLI prints them as one line and exits non-zero."""


class SeqbenchError(Exception):
    """A problem with the user's input or environment, not a bug in seqbench."""

    exit_code = 2
