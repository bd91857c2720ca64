"""One module per `seqbench` subcommand (see seqbench/cli.py)."""
