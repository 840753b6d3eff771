"""A dimension's rules in the order every engine tries them, looked up once."""

from __future__ import annotations

import functools

from harmonia.definitions import Dimension, Rule, RuleSet
from harmonia.errors import NotFoundError

#: The rule id recorded when no rule matched and the fallback segment applies.
FALLBACK = "fallback"


def get_dimension(rule_set: RuleSet, name: str) -> Dimension:
    """The named dimension of a rule set, or a :class:`NotFoundError` naming the choices."""
    found = rule_set.dimensions.get(name)
    if found is None:
        raise NotFoundError(
            f"rule set {rule_set.name!r} has no dimension {name!r}",
            fix=f"use one of {list(rule_set.dimensions)}",
        )
    return found


def dimension_rules(dimension: Dimension, name: str) -> tuple[tuple[str, Rule], ...]:
    """``(path, rule)`` for the rules and then the matrix cells of a dimension.

    Cached because matrix cells are rebuilt as rules on every call of
    :meth:`Dimension.all_rules`.
    """
    try:
        return _cached_rules(dimension, name)
    except TypeError:  # unhashable: a dimension built by hand with lists
        return tuple(dimension.all_rules(name))


@functools.lru_cache(maxsize=256)
def _cached_rules(dimension: Dimension, name: str) -> tuple[tuple[str, Rule], ...]:
    return tuple(dimension.all_rules(name))
