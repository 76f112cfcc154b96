"""The desk: the program around the core (placeholder docstring, rewritten below)."""
