"""Handheld barcode scanners read as evdev keyboard wedges: decoding, devices, classification.

- `keymap`: per-scanner keyboard layouts (libxkbcommon).
- `decoder`: the pure key-event -> scan state machine.
- `device`: opening, grabbing and hot-plug of the event nodes (asyncio), `ScannerService`.
- `classify`: a scan's text -> a typed value (package tag, GS1 data, badge...).
"""
