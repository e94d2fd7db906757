"""`packstation limits explain`: a rule file's version in force, in plain words for a
compliance officer."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from edge.common.errors import BadInput
from edge.limits.rules import ClassRules, JurisdictionRules, RuleVersion


def _iter_lines(rules: JurisdictionRules, version: RuleVersion, cls: ClassRules) -> Iterator[str]:
    yield f"{rules.name} ({rules.code}), customer class {cls.name!r}"
    if cls.description:
        yield f"  {cls.description}"
    yield f"  Rule in force from {version.effective.isoformat()}; source: {version.source}"
    yield f"  Ounce used by this state: {rules.ounce.text}"
    yield f"  Calendar days and rule dates use the store's time zone (default {rules.timezone})."
    for b in cls.buckets:
        yield f"  - {b.name}: at most {b.cap.text} {b.window.describe()}, counting:"
        for m in b.members:
            yield f"      {m.category} by {m.measure.replace('_', ' ')} ({m.how})"
        if b.note:
            yield f"      note: {b.note}"
    if len(cls.buckets) > 1:
        yield "  Every limit above applies at once; a category in several limits uses each."
    if cls.exempt:
        yield f"  Not limited: {', '.join(cls.exempt)}"
    if cls.prohibited:
        yield f"  Not sold to this class (no limit known or allowed): {', '.join(cls.prohibited)}"
    for note in (*cls.notes, *version.notes):
        yield f"  Note: {note}"


def explain(rules: JurisdictionRules, class_name: str | None, day: date) -> str:
    """The rules in force on `day` in plain words (all classes unless `class_name`)."""
    version = rules.version_at(day)
    if version is None:
        first = rules.versions[0].effective.isoformat()
        raise BadInput(f"{rules.code}: no rule version in force on {day} (first: {first})")
    if class_name is not None and class_name not in version.classes:
        known = ", ".join(version.classes)
        raise BadInput(f"{rules.code}: no class {class_name!r} on {day} (classes: {known})")
    names = [class_name] if class_name else list(version.classes)
    parts = ["\n".join(_iter_lines(rules, version, version.classes[n])) for n in names]
    later = [v.effective.isoformat() for v in rules.versions if v.effective > day]
    tail = [f"Later versions take effect on: {', '.join(later)}"] if later else []
    notes = [f"File note: {n}" for n in rules.notes]
    return "\n\n".join([*parts, "\n".join([*notes, *tail])]).rstrip() + "\n"
