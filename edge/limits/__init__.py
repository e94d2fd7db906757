"""Purchase limits: rule files (config/limits/<CODE>.toml), the exact engine in the compiled
core, and the plain-words explanation of a rule version.

May import: `edge.workflow`, `edge.common`, `edge._core`.
"""
