"""Package data: the built-in exercises file (read with importlib.resources)."""
