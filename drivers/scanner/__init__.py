"""Handheld barcode scanners read as evdev keyboard wedges (docs/scanners.md).

- `keymap`: per-scanner keyboard layouts (libxkbcommon), forwards and backwards.
- `decoder`: the pure key-event -> scan state machine.
- `events`: what the driver reports (`Scan`, `ScanDiscarded`, `DeviceState`).
- `device`: finding, opening, grabbing and hot-plug of event nodes (asyncio), `ScannerService`.
- `classify`: a scan's text -> a typed value (package tag, GS1 data, badge...).
- `selftest`: the printed test label and the read-back diff.
"""
