"""How a sweep is run: a plan of cells in a run folder, executed by a launcher (base.py),
one cell at a time, each in a worker process."""
