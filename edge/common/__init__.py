"""The common ground of station and central: wire protocol (PSS/1), hash chain, the event bodies
(events.py) and feed records (feed.py) as structs, errors and exit codes, the TOML loader, key-file
paths, logging and systemd notify.

May import: the standard library and third-party packages only; nothing else of edge, drivers or
central. This is the only part of edge that central may import.
"""
