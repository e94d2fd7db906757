"""`packstation doctor`: what is plugged in, what is wrong, and what to do about it.

May import: `edge.station` and everything below it, `drivers`, and central (it checks central's
handshake); never `edge.sim` or `edge.cli`.
"""
