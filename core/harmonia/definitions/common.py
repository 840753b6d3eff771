"""Small pieces shared by every definition: translated text, missing values, checks."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator

import attrs

from harmonia.errors import Problem

#: Text in several languages: ``{en = "...", fr = "..."}``.
Translated = dict[str, str]

#: A literal a definition may hold: text, a whole number, a decimal or a flag.
Scalar = str | int | float | bool

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


def check_name(path: str, value: str) -> Iterator[Problem]:
    """Feature, item and dimension names are identifiers usable in rules."""
    if not _NAME.match(value):
        yield Problem(path, f"{value!r} is not a valid name: use lower case letters, digits and _")


def check_slug(path: str, value: str) -> Iterator[Problem]:
    """Ids of packs' definitions (therapy areas, questionnaires, rule sets)."""
    if not _SLUG.match(value):
        yield Problem(
            path, f"{value!r} is not a valid id: use lower case letters, digits, '-', '_' and '.'"
        )


def check_unique(path: str, values: Iterable[str], what: str) -> Iterator[Problem]:
    for value, count in Counter(values).items():
        if count > 1:
            yield Problem(path, f"{what} {value!r} is declared {count} times")


def check_choice(path: str, value: object, choices: Iterable[object]) -> Iterator[Problem]:
    choices = list(choices)
    if value not in choices:
        yield Problem(path, f"{value!r} is not one of {choices}")


def check_translations(path: str, text: Translated, languages: Iterable[str]) -> Iterator[Problem]:
    """Every declared language has a non-empty text."""
    for language in languages:
        if not str(text.get(language, "")).strip():
            yield Problem(path, f"missing the {language!r} translation")


@attrs.frozen
class Missing:
    """What a feature is when its input is missing for a customer.

    In TOML: leave ``missing`` out (the value stays NULL and rules can test
    ``IS NULL``), write ``missing = "unknown"`` (a categorical feature takes
    the level ``unknown``), or ``missing = { default = 1 }``.
    """

    #: The value a customer without the input gets (``{ default = 1 }``).
    default: Scalar | None = None
    #: Whether a customer without the input gets the level ``unknown``.
    unknown: bool = False

    @property
    def fill(self) -> Scalar | None:
        """The value a missing input becomes (``None`` keeps it NULL)."""
        return "unknown" if self.unknown else self.default


UNKNOWN = "unknown"
