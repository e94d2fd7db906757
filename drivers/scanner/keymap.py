"""Keyboard layouts of scanners, compiled by libxkbcommon (headless, no X display).

A keyboard-wedge scanner types its barcode as key positions; what those positions mean depends on
the keyboard layout the scanner was set up for (libxkbcommon: the Z key is `y` in German
and `w` in French). Each scanner gets its own xkb keymap, so Shift, Caps Lock, Num Lock and AltGr
are resolved exactly as the layout defines them. The same keymap, run backwards, tells the scanner
simulator which keys a real scanner presses for a character.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Final, Literal

from xkbcommon import xkb

LayoutName = Literal["us", "gb", "de", "fr", "be"]
LAYOUTS: Final[tuple[str, ...]] = ("us", "gb", "de", "fr", "be")

XKB_OFFSET: Final = 8  # the XKB keycode is the evdev code + 8 (xkbcommon keycodes)
_DOWN = xkb.KeyDirection.XKB_KEY_DOWN
_UP = xkb.KeyDirection.XKB_KEY_UP
_EFFECTIVE = xkb.StateComponent.XKB_STATE_MODS_EFFECTIVE
_LOCKED = xkb.StateComponent.XKB_STATE_MODS_LOCKED

# Control characters reachable as Ctrl+key: '@' (NUL), A-Z, '[', '\\', ']' (GS), '^', '_'.
_CTRL_BASE: Final = "@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_"

# Spacing characters of dead keys, typed as dead key + Space (German '^' and '`' have no other key).
DEAD_SPACING: Final[dict[str, str]] = {
    "dead_circumflex": "^",
    "dead_grave": "`",
    "dead_acute": "\u00b4",
    "dead_tilde": "~",
    "dead_diaeresis": "\u00a8",
    "dead_cedilla": "\u00b8",
}

# evdev codes of the keys that carry modifiers in the simulator.
KEY_LEFTSHIFT: Final = 42
KEY_LEFTCTRL: Final = 29
KEY_LEFTALT: Final = 56
KEY_RIGHTALT: Final = 100
KEY_SPACE: Final = 57


class LayoutError(ValueError):
    """The layout name is unknown to xkb-data, or a character cannot be typed in it."""


@dataclass(frozen=True)
class Stroke:
    """How to type one character: the key's evdev code, with Shift and/or AltGr held.

    `dead` means the key is a dead key and Space must follow it.
    """

    code: int
    shift: bool = False
    altgr: bool = False
    dead: bool = False


@functools.cache
def _context() -> Any:
    # No environment RMLVO names: the station's layout must come from its config, not XKB_DEFAULT_*.
    return xkb.Context(no_environment_names=True)


class Layout:
    """One compiled xkb keymap (layout `name`, pc105 model, no options)."""

    def __init__(self, name: str) -> None:
        if name not in LAYOUTS:
            raise LayoutError(f"unknown keyboard layout {name!r}; known: {', '.join(LAYOUTS)}")
        try:
            self._keymap = _context().keymap_new_from_names(
                rules="evdev", model="pc105", layout=name
            )
        except xkb.XKBKeymapCreationFailure as exc:  # xkb-data missing
            raise LayoutError(f"cannot compile keyboard layout {name!r}: {exc}") from exc
        self.name = name
        self.shift_mask = 1 << self._keymap.mod_get_index("Shift")
        self.lock_mask = 1 << self._keymap.mod_get_index("Lock")
        self.numlock_mask = 1 << self._keymap.mod_get_index("Mod2")
        self.level3_mask = 1 << self._keymap.mod_get_index("Mod5")

    def new_state(self, *, numlock: bool = True) -> KeyState:
        """A fresh keyboard state; scanners that type on the keypad expect Num Lock on."""
        return KeyState(self, numlock=numlock)

    def base_char(self, code: int) -> str:
        """The character of key `code` with no modifier ('' for non-character keys)."""
        syms = self._keymap.key_get_syms_by_level(code + XKB_OFFSET, 0, 0)
        return _sym_text(syms[0]) if syms else ""

    @functools.cached_property
    def strokes(self) -> dict[str, Stroke]:
        """Every character this layout can type, and the simplest way to type it
        (fewest modifiers, Shift before AltGr, a live key before a dead key + Space)."""
        found: dict[str, tuple[int, Stroke]] = {}
        # AltGr only where the right Alt key is AltGr (in "us" it is a second Alt key).
        ralt = self._keymap.key_get_syms_by_level(KEY_RIGHTALT + XKB_OFFSET, 0, 0)
        altgr = bool(ralt) and xkb.keysym_get_name(ralt[0]) == "ISO_Level3_Shift"
        allowed = self.shift_mask | (self.level3_mask if altgr else 0)
        for kc in range(self._keymap.min_keycode(), self._keymap.max_keycode() + 1):
            for level in range(self._keymap.num_levels_for_key(kc, 0)):
                masks = [
                    m
                    for m in self._keymap.key_get_mods_for_level(kc, 0, level)
                    if m & ~allowed == 0
                ]
                syms = self._keymap.key_get_syms_by_level(kc, 0, level)
                if not masks or not syms:
                    continue
                mask = min(masks, key=self._cost)
                name = xkb.keysym_get_name(syms[0])
                dead = name in DEAD_SPACING
                text = DEAD_SPACING[name] if dead else _sym_text(syms[0])
                if len(text) != 1:
                    continue
                cost = self._cost(mask) + (10 if dead else 0)
                if text not in found or cost < found[text][0]:
                    shift, altgr = bool(mask & self.shift_mask), bool(mask & self.level3_mask)
                    found[text] = (cost, Stroke(kc - XKB_OFFSET, shift, altgr, dead))
        return {ch: stroke for ch, (_, stroke) in found.items()}

    def _cost(self, mask: int) -> int:
        return (1 if mask & self.shift_mask else 0) + (2 if mask & self.level3_mask else 0)

    def stroke_for(self, char: str) -> Stroke:
        """How a scanner in this layout types `char`; LayoutError when it cannot."""
        try:
            return self.strokes[char]
        except KeyError:
            raise LayoutError(f"{char!r} cannot be typed in layout {self.name!r}") from None


def _sym_text(sym: int) -> str:
    text = xkb.keysym_to_string(sym)
    return text if isinstance(text, str) else ""


@functools.cache
def layout(name: str) -> Layout:
    """The compiled layout `name` (compiled once per process)."""
    return Layout(name)


class KeyState:
    """The modifier and lock state of one event node, fed key by key."""

    def __init__(self, lay: Layout, *, numlock: bool) -> None:
        self.layout = lay
        self._numlock = numlock
        self._state = lay._keymap.state_new()
        if numlock:
            self._state.update_mask(0, 0, lay.numlock_mask, 0, 0, 0)

    def press(self, code: int) -> str:
        """Key `code` went down: its text under the current modifiers (before the press counts)."""
        kc = code + XKB_OFFSET
        text = self._text(kc)
        self._state.update_key(kc, _DOWN)
        return text

    def release(self, code: int) -> None:
        """Key `code` went up."""
        self._state.update_key(code + XKB_OFFSET, _UP)

    def dead_spacing(self, code: int) -> str:
        """The spacing character of a dead key under the current modifiers, else ''."""
        name = xkb.keysym_get_name(self._state.key_get_one_sym(code + XKB_OFFSET))
        return DEAD_SPACING.get(name, "")

    @property
    def ctrl(self) -> bool:
        """Control is held."""
        return bool(self._state.mod_name_is_active("Control", _EFFECTIVE))

    @property
    def alt(self) -> bool:
        """Alt (not AltGr) is held: keypad digits then spell a character code."""
        return bool(self._state.mod_name_is_active("Mod1", _EFFECTIVE))

    def reset_held(self) -> None:
        """Forget held keys but keep Caps/Num Lock (after SYN_DROPPED the key state is unknown)."""
        locked = self._state.serialize_mods(_LOCKED)
        self._state = self.layout._keymap.state_new()
        self._state.update_mask(0, 0, locked, 0, 0, 0)

    def _text(self, kc: int) -> str:
        text = str(self._state.key_get_string(kc))
        if not self.ctrl:
            return text
        if len(text) == 1 and ord(text) < 0x20:
            return text
        return _ctrl_char(self.layout.base_char(kc - XKB_OFFSET), kc - XKB_OFFSET)


def _ctrl_char(base: str, code: int) -> str:
    """Ctrl+key as a control character, like a terminal: by the key's character in the layout,
    else by its US position. Scanners send GS as Ctrl + the US `]` key whatever their layout, while
    xkb's own Ctrl transform gives GS only where that key types `]` (tried with libxkbcommon)."""
    for ch in (base.upper(), layout("us").base_char(code).upper()):
        if len(ch) == 1 and ch in _CTRL_BASE:
            return chr(ord(ch) & 0x1F)
    return ""
