"""Cluster launchers (`seqbench run --launcher slurm|local`): a run's cells fanned out to
scheduler jobs through submitit, into the same run folder a local run writes
(launcher.py)."""
