"""Hardware drivers of the pack station: scanner (evdev), scale (serial), printer (ESC/POS), indicator.

Nothing here imports `edge` or `central`: the daemon injects these drivers into its workflow.
"""
