"""How a sweep is run: pytest in a supervised child process, one cell at a time."""
