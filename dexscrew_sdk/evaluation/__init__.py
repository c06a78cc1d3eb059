"""Evaluation on the twin: seeded trials over many twin nodes, the paper's tables, plots, the demo pipeline."""
