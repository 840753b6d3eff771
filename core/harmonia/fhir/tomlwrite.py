"""Writing a definition as the TOML file a pack ships.

``harmonia questionnaire import --out DIR`` uses this to turn an imported
FHIR questionnaire into a file a therapy-area pack loads like its own. Fields
at their default value are left out, as a person would write the file; the
result loads back (through the one converter) into an equal definition.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

import attrs

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
#: Lists longer than this on one line are written one element per line.
LINE_LENGTH = 88


def plain(definition: Any) -> Any:
    """A definition as plain data: attrs classes to dicts without defaults or provenance."""
    if attrs.has(type(definition)):
        data = {}
        for field in attrs.fields(type(definition)):
            value = getattr(definition, field.name)
            if field.name == "provenance" or _is_default(field, value):
                continue
            data[field.name] = plain(value)
        return data
    if isinstance(definition, list | tuple):
        return [plain(value) for value in definition]
    if isinstance(definition, Mapping):
        return {str(key): plain(value) for key, value in definition.items()}
    return definition


def _is_default(field: attrs.Attribute, value: Any) -> bool:
    default = field.default
    if default is attrs.NOTHING:
        return False
    if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
        default = default.factory()  # type: ignore[union-attr]
    return value == default


def dumps(data: Mapping[str, Any], *, header: str = "") -> str:
    """TOML text for plain data (dicts, lists, text, numbers, booleans)."""
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    if lines:
        lines.append("")
    _table(lines, [], data)
    return "\n".join(lines).strip() + "\n"


def _table(lines: list[str], path: list[str], table: Mapping[str, Any]) -> None:
    for key, value in table.items():
        if _inline(value):
            lines.append(_assignment(key, value))
        elif _flat_table(value):
            lines.extend(f"{_key(key)}.{_key(k)} = {_value(v)}" for k, v in value.items())
        elif _inline_rows(value):
            rows = "".join(f"    {_value(row)},\n" for row in value)
            lines.append(f"{_key(key)} = [\n{rows}]")
    for key, value in table.items():
        name = ".".join(_key(part) for part in [*path, key])
        if isinstance(value, Mapping) and not _inline(value) and not _flat_table(value):
            lines.extend(["", f"[{name}]"])
            _table(lines, [*path, key], value)
        elif isinstance(value, list) and not _inline(value) and not _inline_rows(value):
            for entry in value:
                lines.extend(["", f"[[{name}]]"])
                _table(lines, [*path, key], entry)


def _assignment(key: str, value: Any) -> str:
    """``key = value``; a long list gets one element per line, as people write them."""
    line = f"{_key(key)} = {_value(value)}"
    if len(line) <= LINE_LENGTH or not isinstance(value, list):
        return line
    return f"{_key(key)} = [\n" + "".join(f"    {_value(v)},\n" for v in value) + "]"


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _inline(value: Any) -> bool:
    """Written as ``key = value``: scalars, lists of scalars, empty containers."""
    if isinstance(value, Mapping | list):
        return not value or (isinstance(value, list) and all(_scalar(v) for v in value))
    return True


def _flat_table(value: Any) -> bool:
    """A table of scalars (translations, item maps): written as dotted keys."""
    return isinstance(value, Mapping) and bool(value) and all(_scalar(v) for v in value.values())


def _inline_rows(value: Any) -> bool:
    """A list of small flat tables (bands, conditions): one inline table per line."""
    return isinstance(value, list) and bool(value) and all(_flat_table(v) for v in value)


def _key(key: str) -> str:
    return key if _BARE_KEY.match(key) else json.dumps(key, ensure_ascii=False)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, str):
        # JSON's escapes are all valid in TOML basic strings.
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def _float(value: float) -> str:
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return str(int(value)) if value.is_integer() else repr(value)
