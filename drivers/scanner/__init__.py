"""Handheld barcode scanners read as evdev keyboard wedges (docs/scanners.md).

- `keymap`: per-scanner keyboard layouts (libxkbcommon), forwards and backwards.
- `decoder`: the pure key-event -> scan state machine.
- `events`: what the driver reports (`Scan`, `ScanDiscarded`, `DeviceState`).
- `device`: finding, opening, grabbing and hot-plug of event nodes (asyncio), `ScannerService`.
- `keystrokes`: text -> the key events a scanner sends for it (the layout run backwards), and
  back through a fresh decoder; used by the inject channel and the self-test.
- `selftest`: the printed test label and the read-back diff.
- `sim`: simulated scanners behind the real device reader (not imported by the driver).

What a scan means (badge, ticket, package tag, GS1) is `edge.scan.classify`. Imports nothing from
`edge` or `central`.
"""
