"""packstation central: the sync service that stores station events and re-publishes them.

May import: `edge.common` (wire protocol, hash chain, errors, config loader, key paths, logging,
sd_notify) and nothing else of edge; never drivers. Checked by lint-imports (pyproject.toml).
"""
