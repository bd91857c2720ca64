"""What the report, the claims and the regression detector share, below all three.

- data.py: loaded results as tidy pandas frames (metrics, timed rounds, loss curves);
- stats.py: medians with intervals whose coverage holds at the sample size, rank tests, Holm;
- survival.py: steps-to-solve as right-censored survival data (Kaplan–Meier);
- units.py: each metric's unit, read from its name, and the one number formatter;
- markdown.py: the one Markdown-table writer;
- provenance.py: warnings when result sets come from different machines or commands.

Layers, each importing only those below it: seqbench.analysis (on config, tasks, results,
schema and errors) ← seqbench.claims ← seqbench.report; seqbench.compare stands on
seqbench.analysis alone. tests/test_layers.py checks it.
"""
