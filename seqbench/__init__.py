"""seqbench: reproducible benchmarks for recurrent sequence models.

The architecture, one folder per axis (after optimum-benchmark):
  models/     registry of recurrent cells and the analytic cost formulas
  tasks/      registry of synthetic tasks with their chance baselines
  scenarios/  what is measured: throughput, memory, gradients, convergence
  launchers/  how a sweep is run: pytest in a supervised subprocess
  profiles.py which cells a sweep holds (smoke, quick, seed)
  schema.py   the versioned record that each benchmark entry carries
"""

__version__ = "0.1.0"
