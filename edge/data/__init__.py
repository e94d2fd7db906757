"""Data files shipped in the wheel, read with importlib.resources (edge.common.resources)."""
