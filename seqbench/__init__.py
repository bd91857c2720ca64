"""seqbench: reproducible benchmarks for recurrent sequence models.

The architecture, one folder per axis (after optimum-benchmark), listed bottom layer first.
Imports point down: analysis stands on the registries and results; claims on analysis;
report on claims and analysis; compare on analysis only; nothing imports report, compare,
studies or commands except the CLI (tests/test_layers.py checks the analysis packages).

  config.py, errors.py, schema.py
              the typed cell (one sweep point), one-line errors, the versioned record
  models/     registry of recurrent models (MODELS) and the analytic cost formulas
  tasks/      registry of synthetic tasks (TASKS): data, loss, chance loss, solved criterion
  scenarios/  what is measured: throughput, latency, memory, gradients, convergence, overhead
  profiles.py which cells a sweep holds (smoke, quick, seed, long)
  launchers/  how a sweep runs: a plan, worker processes, a supervisor, a cluster launcher
  results/    stored results (pytest-benchmark JSON and per-cell records) read into pandas
  analysis/   what report, claims and compare share: frames, statistics, units, tables
  claims/     the source article's claims, as data, and the checks that decide them
  report/     tables, seaborn figures and verdicts rendered as Markdown and HTML
  compare/    two runs compared cell by cell, for regression tracking in CI
  studies/    measurements of the suite itself (timing, memory model, detector study)
  commands/   the CLI command table (cli.py) and one module per subcommand
"""

__version__ = "0.1.0"
