"""What seqbench measures: one module per benchmark family."""
