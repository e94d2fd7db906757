"""The station's link to central: journal rows out, the feed in, and the replica of what central
sent (order queue, inventory, badges).

May import: `edge.journal`, `edge.scan`, `edge.label`, `edge.limits`, `edge.workflow`, `edge.common`.
"""
