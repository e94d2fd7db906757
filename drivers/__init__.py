"""Hardware drivers of the pack station: scanner (evdev), scale (serial), printer (ESC/POS), indicator.

Imports nothing from `edge` or `central`: the daemon injects these drivers into its workflow.
`config` holds the driver sections of station.toml ([[scanner]], [scale], [printer], [indicator]).
Each device's simulator (`scanner.sim`, `scale.sim`, `printer.sim`) stands beside its driver for
the simulated day and the tests; no production module imports one (lint-imports checks both).
"""
