"""The rule language: parse, check, compile to SQL, evaluate one customer.

A rule's ``when`` is a restricted SQL boolean expression over a rule set's
features, e.g. ``potential_decile >= 8 AND adoption IN ('regular', 'advocate')``.
Each distinct text is parsed once (sqlglot) and then

- checked when a pack loads (:func:`check_rule_set`): syntax, the whitelist,
  feature names, types, levels, unreachable rules, segments never assigned;
- compiled to the SQL of the engine holding the data (:func:`compile_condition`,
  :func:`compile_dimension`, :func:`to_sql`), so a universe is segmented where
  it lives;
- evaluated for one customer in Python (:func:`evaluate`, :func:`assign`,
  :func:`explain`), with the same three-valued logic as the SQL.

Types (from each feature's declaration, see :class:`FeatureSpec`):

- text: ``=``, ``<>``, ``IN`` and ``IS NULL``; no ordering (use ``IN``);
  literals must be known levels when the feature's levels are known;
- integer, number: comparisons, ``BETWEEN``, ``IN``, ``+ - * /``; ``/`` is
  always decimal division and dividing by zero gives NULL;
- boolean: bare (``is_kol``), ``NOT``, ``= TRUE``/``= FALSE``, ``IS NULL``.

NULL follows SQL everywhere: a comparison with NULL is NULL, ``AND``/``OR``
are Kleene, and a rule fires only when its condition is TRUE. ``NULL`` itself
is written only in ``IS [NOT] NULL``.

This layer uses only the contract (definitions, errors) and sqlglot: no
database, no CLI.
"""

from harmonia.rules.check import check_condition, check_rule_set
from harmonia.rules.compile import compile_condition, compile_dimension, to_sql
from harmonia.rules.dimensions import FALLBACK
from harmonia.rules.evaluate import RuleEvaluationError, assign, evaluate
from harmonia.rules.explain import DimensionTrace, LeafTrace, RuleTrace, explain
from harmonia.rules.features import FeatureSpec, feature_specs
from harmonia.rules.language import ConditionProblem, RuleSyntaxError, parse_condition

__all__ = [
    "FALLBACK",
    "ConditionProblem",
    "DimensionTrace",
    "FeatureSpec",
    "LeafTrace",
    "RuleEvaluationError",
    "RuleSyntaxError",
    "RuleTrace",
    "assign",
    "check_condition",
    "check_rule_set",
    "compile_condition",
    "compile_dimension",
    "evaluate",
    "explain",
    "feature_specs",
    "parse_condition",
    "to_sql",
]
