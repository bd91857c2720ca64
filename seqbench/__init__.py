"""seqbench: reproducible benchmarks for recurrent sequence models.

The architecture, one folder per axis (after optimum-benchmark), listed bottom layer first.
Imports point down only (tests/test_layers.py gives every module its layer and checks the
whole package): report stands on claims and analysis, claims and compare on analysis, and
nothing below the studies and the CLI imports them.

  errors.py, schema.py, env.py
              one-line errors; the versioned record and its keys; the recorded environment
  tasks/      registry of synthetic tasks (TASKS): data, loss, chance loss, solved criterion
  models/     registry of recurrent models (MODELS); the model code and cost formulas
  implementations/
              registry of ways to compute a model's steps (IMPLEMENTATIONS): fused, a cell
              loop, that loop compiled, the article's printed equations
  config.py   the typed cell (one sweep point), validated against the registries
  extensions.py  models and tasks registered from outside (SEQBENCH_EXTENSIONS)
  profiles.py which cells a sweep holds (smoke, quick, seed, long)
  scenarios/  what is measured: throughput, latency, memory, gradients, convergence, overhead
  launchers/  how a sweep runs: a plan, worker processes, a supervisor, a cluster launcher
  pytest_plugin.py, pytest_session.py
              the pytest plugin: options only, and the session loaded where seqbench runs
  results/    stored results (pytest-benchmark JSON and per-cell records) read into pandas
  analysis/   what report, claims and compare share: frames, statistics, units, tables
  claims/     the source article's claims, as data, and the checks that decide them
  compare/    two runs compared cell by cell, for regression tracking in CI
  report/     tables, seaborn figures and verdicts rendered as Markdown and HTML
  studies/    measurements of the suite itself (timing, memory model, detector study)
  commands/, cli.py
              the CLI command table and one module per subcommand
"""

__version__ = "0.1.0"
