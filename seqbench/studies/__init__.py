"""Studies: one-off measurements that check seqbench's own models and tools.

Each study is a module runnable with ``python -m seqbench.studies.NAME --out DIR``; it writes
its tables and a summary.md (machine, versions, date and the exact command) into DIR.

  memory_model  the peak-memory estimate (seqbench.models.costs) against fresh-process
                peaks, in and out of the configuration its fitted term was fitted at
"""
