"""The ways the program starts (placeholder docstring, rewritten below)."""
