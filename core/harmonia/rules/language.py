"""The rule language: parse a condition once, check it against the whitelist, locate nodes.

A condition is a restricted SQL boolean expression over feature names::

    potential_decile >= 8 AND adoption IN ('regular', 'advocate')

sqlglot parses it (default dialect); this module then refuses every construct
outside the whitelist below, so everything downstream (type checks, SQL
compilation, the Python evaluator) only ever sees these node types:

=====================  ===============================================
logic                  ``AND``, ``OR``, ``NOT``, parentheses
comparison             ``=``, ``<>``, ``!=``, ``<``, ``<=``, ``>``, ``>=``
predicates             ``IN (literal, ...)``, ``BETWEEN a AND b``,
                       ``IS NULL``, ``IS NOT NULL``
arithmetic             ``+``, ``-``, ``*``, ``/``, unary ``-``
operands               feature names, string, integer and decimal
                       literals, ``TRUE``, ``FALSE``
=====================  ===============================================

Each distinct text is parsed once (:func:`parse` caches by text). sqlglot only
records positions on identifiers and literals, so :class:`Locator` finds the
column of operators and keywords from the token stream.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterator

import attrs
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import Token, TokenType

from harmonia.errors import HarmoniaError

#: Comparison operators, with the SQL spelling used in messages.
COMPARISONS: dict[type[exp.Expression], str] = {
    exp.EQ: "=",
    exp.NEQ: "<>",
    exp.LT: "<",
    exp.LTE: "<=",
    exp.GT: ">",
    exp.GTE: ">=",
}
ORDERINGS = (exp.LT, exp.LTE, exp.GT, exp.GTE)
ARITHMETIC: dict[type[exp.Expression], str] = {
    exp.Add: "+",
    exp.Sub: "-",
    exp.Mul: "*",
    exp.Div: "/",
}
CONNECTIVES = (exp.And, exp.Or)

#: Integers must fit a 64-bit column in every engine.
INT64 = range(-(2**63), 2**63)

# Constructs people try, with what to write instead.
_REFUSED: dict[type[exp.Expression], str] = {
    exp.Like: "LIKE is not supported; list the accepted values with IN (...)",
    exp.ILike: "ILIKE is not supported; list the accepted values with IN (...)",
    exp.Case: "CASE is not supported; write one rule per case",
    exp.If: "CASE/IF is not supported; write one rule per case",
    exp.Subquery: "subqueries are not supported: a rule sees one customer's features",
    exp.Select: "subqueries are not supported: a rule sees one customer's features",
    exp.Exists: "EXISTS is not supported: a rule sees one customer's features",
    exp.Star: "'*' is not supported: name the features",
    exp.Mod: "'%' is not supported; use +, -, * and /",
    exp.IntDiv: "integer division is not supported; use / (always decimal division)",
    exp.DPipe: "'||' (concatenation) is not supported",
    exp.Cast: "CAST is not supported: features already have their type",
    exp.NullSafeEQ: "'<=>' is not supported; use = together with IS NULL",
    exp.Placeholder: "placeholders are not supported: write the value",
    exp.Parameter: "parameters are not supported: write the value",
    exp.Interval: "INTERVAL is not supported",
    exp.Alias: "unexpected name: is an operator (AND, OR, =) missing before it?",
}


class RuleSyntaxError(HarmoniaError):
    """A condition that is not valid in the rule language.

    ``position`` is the 1-based character offset in the condition text (the
    column, for the usual one-line condition); ``line`` and ``column`` locate
    it in a multi-line text.
    """

    def __init__(self, message: str, position: int, *, text: str = "", fix: str | None = None):
        self.message = message
        self.position = position
        self.text = text
        self.line, self.column = line_and_column(text, position)
        super().__init__(f"{message} ({describe_position(text, position)})", fix=fix)


def line_and_column(text: str, position: int) -> tuple[int, int]:
    """The 1-based line and column of a 1-based character offset."""
    before = text[: max(position - 1, 0)]
    line = before.count("\n") + 1
    return line, position - (before.rfind("\n") + 1)


def describe_position(text: str, position: int) -> str:
    """``column 7``, or ``line 2, column 3`` when the condition spans lines."""
    line, column = line_and_column(text, position)
    return f"line {line}, column {column}" if "\n" in text else f"column {column}"


@attrs.frozen
class ConditionProblem:
    """One thing wrong in a condition, at a 1-based character ``position``."""

    message: str
    position: int


@attrs.frozen
class Parsed:
    """One condition text, parsed once: its tree (or its errors) and a locator."""

    text: str
    expression: exp.Expression | None
    errors: tuple[ConditionProblem, ...]
    locator: Locator

    @property
    def ok(self) -> bool:
        """Parsed and inside the whitelist."""
        return self.expression is not None and not self.errors

    def tree(self) -> exp.Expression:
        """The parsed condition (shared: never mutate it), or the first error raised."""
        if self.expression is None or self.errors:
            first = self.errors[0]
            raise RuleSyntaxError(first.message, first.position, text=self.text)
        return self.expression


def parse_condition(text: str) -> exp.Expression:
    """Parse a rule condition; raise :class:`RuleSyntaxError` if it is not in the language.

    Returns a copy, so callers may change it without touching the cache.
    """
    return parse(text).tree().copy()


@functools.lru_cache(maxsize=4096)
def parse(text: str) -> Parsed:
    """Parse and whitelist-check ``text``; cached, so never mutate the result."""
    dialect = Dialect.get_or_raise(None)
    try:
        tokens = dialect.tokenize(text)
    except TokenError:
        quote = _unclosed_quote(text)
        if quote is None:
            return _failed(text, "cannot read the condition (an unclosed comment?)", 1, ())
        return _failed(text, "unterminated quote", quote, ())
    locator = Locator(text, tokens)
    for token in tokens:
        if token.token_type == TokenType.EQ and token.text == "==":
            # sqlglot reads '==' as '='; the language has one spelling.
            return _failed(text, "'==' is not SQL; use '='", token.start + 1, tokens)
    try:
        statements = dialect.parser().parse(tokens, text)
    except ParseError as error:
        message, position = _parse_error(error, text)
        return _failed(text, message, position, tokens)
    statements = [statement for statement in statements if statement is not None]
    if not statements:
        return _failed(text, "empty condition", 1, tokens)
    if len(statements) > 1:
        semicolon = next((t for t in tokens if t.token_type == TokenType.SEMICOLON), tokens[0])
        return _failed(text, "one condition only: remove ';'", semicolon.start + 1, tokens)
    expression = statements[0]
    locator.index(expression)
    errors = tuple(
        ConditionProblem(message, locator.position(node))
        for node, message in _whitelist(expression)
    )
    return Parsed(text, expression, errors, locator)


def _failed(text: str, message: str, position: int, tokens: list[Token] | tuple) -> Parsed:
    return Parsed(text, None, (ConditionProblem(message, position),), Locator(text, list(tokens)))


def _parse_error(error: ParseError, text: str) -> tuple[str, int]:
    """A readable message and a 1-based offset for sqlglot's first parse error."""
    if not error.errors:
        return str(error), 1
    first = error.errors[0]
    highlight = first.get("highlight") or ""
    # sqlglot reports the column where the highlighted token *ends*.
    line, column = first.get("line") or 1, first.get("col") or 1
    lines = text.split("\n")
    offset = sum(len(previous) + 1 for previous in lines[: line - 1]) + column
    position = max(offset - len(highlight) + 1, 1)
    description = first.get("description", "")
    if description.startswith("Required keyword"):
        message = f"{highlight!r} is incomplete: something is missing after it"
    elif description.startswith("Expecting )"):
        message = "missing ')'"
    elif description.startswith("Invalid expression / Unexpected token"):
        message = f"unexpected {highlight!r}"
    else:
        message = f"{description} near {highlight!r}"
    return message, position


def _unclosed_quote(text: str) -> int | None:
    """The 1-based offset of the quote that is never closed, if any."""
    opened: tuple[str, int] | None = None
    index = 0
    while index < len(text):
        char = text[index]
        if opened is None and char in "'\"":
            opened = (char, index)
        elif opened is not None and char == opened[0]:
            if text[index + 1 : index + 2] == char:  # a doubled quote is an escaped quote
                index += 1
            else:
                opened = None
        index += 1
    return opened[1] + 1 if opened else None


# --- the whitelist -----------------------------------------------------------


def _whitelist(
    node: exp.Expression, *, in_list: bool = False
) -> Iterator[tuple[exp.Expression, str]]:
    """Every construct outside the language, outermost first (not descending into them)."""
    refused = _refusal(node, in_list=in_list)
    if refused is not None:
        yield node, refused
        return
    if isinstance(node, exp.In):
        yield from _whitelist(node.this)
        for item in node.expressions:
            yield from _whitelist(item, in_list=True)
        return
    if isinstance(node, exp.Is):  # its NULL is the one allowed NULL
        yield from _whitelist(node.this)
        return
    for child in children(node):
        yield from _whitelist(child)


def _refusal(node: exp.Expression, *, in_list: bool) -> str | None:
    """Why ``node`` is not allowed here, or ``None`` when it is."""
    if in_list and not is_literal(node):
        if isinstance(node, exp.Null):
            return "NULL in an IN list never matches; test it with IS NULL"
        return "IN lists hold literal values only"
    for refused_type, message in _REFUSED.items():
        if isinstance(node, refused_type):
            return message
    if isinstance(node, exp.Column):
        if node.table or not isinstance(node.this, exp.Identifier):
            return f"qualified name {node.sql()!r} is not supported: use the feature's name"
        return None
    if isinstance(node, exp.Literal):
        if node.is_string:
            return None
        if not re.fullmatch(r"\d+(\.\d*)?([eE][-+]?\d+)?", node.this):
            return f"{node.this!r} is not a number the rule language knows"
        if is_integer_literal(node) and int(node.this) not in INT64:
            return f"{node.this} is out of range for a 64-bit integer"
        if not math.isfinite(float(node.this)):
            return f"{node.this} is out of range for a double"
        return None
    if isinstance(node, exp.Null):
        return "comparing with NULL is never true; use IS NULL or IS NOT NULL"
    if isinstance(node, exp.Is):
        if isinstance(node.expression, exp.Null):
            return None
        return "only IS NULL and IS NOT NULL are supported; compare with = TRUE or = FALSE"
    if isinstance(node, exp.In):
        if node.args.get("query") or node.args.get("field") or node.args.get("unnest"):
            return "IN needs a parenthesized list of values"
        if not node.expressions:
            return "an empty IN list never matches"
        return None
    if isinstance(node, exp.Div) and (node.args.get("typed") or node.args.get("safe")):
        return "only plain '/' division is supported"
    if isinstance(node, (*CONNECTIVES, exp.Not, exp.Paren, exp.Between, exp.Neg, exp.Boolean)):
        return None
    if isinstance(node, (*COMPARISONS, *ARITHMETIC)):
        return None
    if isinstance(node, exp.Func):
        name = node.name if isinstance(node, exp.Anonymous) else node.sql_name()
        return f"functions such as {name}() are not supported: use features and operators"
    return f"{node.sql()!r} is not supported in a rule condition"


def children(node: exp.Expression) -> Iterator[exp.Expression]:
    """The operand nodes of ``node``, in source order."""
    for value in node.args.values():
        for child in value if isinstance(value, list) else [value]:
            if isinstance(child, exp.Expression) and not isinstance(child, exp.Identifier):
                yield child


# --- small helpers shared by the checker, compiler and evaluator --------------


def is_integer_literal(node: exp.Expression) -> bool:
    """A whole-number literal such as ``8`` (``8.0`` and ``1e3`` are decimals)."""
    return isinstance(node, exp.Literal) and not node.is_string and node.this.isdigit()


def is_literal(node: exp.Expression) -> bool:
    """A literal value: string, number, boolean, or a negated number (``-5``)."""
    if isinstance(node, exp.Neg):
        return isinstance(node.this, exp.Literal) and not node.this.is_string
    return isinstance(node, (exp.Literal, exp.Boolean))


def literal_value(node: exp.Expression) -> str | int | float | bool:
    """The Python value of a literal accepted by :func:`is_literal`."""
    if isinstance(node, exp.Neg):
        return -literal_value(node.this)  # type: ignore[operator]
    if isinstance(node, exp.Boolean):
        return bool(node.this)
    assert isinstance(node, exp.Literal)
    if node.is_string:
        return node.this
    return int(node.this) if is_integer_literal(node) else float(node.this)


def strip_parens(node: exp.Expression) -> exp.Expression:
    """``node`` without the parentheses around it."""
    while isinstance(node, exp.Paren):
        node = node.this
    return node


def features_in(node: exp.Expression) -> list[str]:
    """The feature names ``node`` refers to, in order of first appearance."""
    names = dict.fromkeys(column.name for column in node.find_all(exp.Column))
    return list(names)


def has_connective(node: exp.Expression) -> bool:
    """Whether an AND or an OR appears anywhere in ``node``."""
    return node.find(*CONNECTIVES) is not None


def atoms(node: exp.Expression) -> list[exp.Expression]:
    """The leaf predicates of a condition, in source order.

    A leaf is a maximal part without AND/OR: ``x > 1``, ``is_kol``,
    ``adoption NOT IN ('a')``, ``NOT (x > 1)``. These are what an explanation
    shows one by one and what the reachability analysis tabulates.
    """
    if isinstance(node, (*CONNECTIVES, exp.Not, exp.Paren)) and has_connective(node):
        return [leaf for child in children(node) for leaf in atoms(child)]
    return [node]


# --- positions ---------------------------------------------------------------


class Locator:
    """Finds where a node of a parsed condition starts in its text.

    sqlglot keeps positions on identifiers and literals only; the rest is
    found from the tokens: an infix operator is the first token after its
    left operand, a prefix operator the token before its operand, and
    ``TRUE``/``FALSE``/``NULL`` are matched to their tokens in source order.
    """

    _KEYWORD_LEAVES = (TokenType.TRUE, TokenType.FALSE, TokenType.NULL)

    def __init__(self, text: str, tokens: list[Token]):
        self.text = text
        self.tokens = tokens
        self._leaves: dict[int, Token] = {}

    def index(self, root: exp.Expression) -> None:
        """Match keyword leaves (which carry no position) to their tokens."""
        nodes = [node for node in root.dfs() if isinstance(node, (exp.Boolean, exp.Null))]
        found = [token for token in self.tokens if token.token_type in self._KEYWORD_LEAVES]
        if len(nodes) == len(found):
            self._leaves = {id(node): token for node, token in zip(nodes, found, strict=True)}

    def position(self, node: exp.Expression) -> int:
        """The 1-based offset of ``node`` (1 when nothing better is known)."""
        start = self._start(node)
        return start + 1 if start is not None else 1

    def _own(self, node: exp.Expression) -> tuple[int, int] | None:
        """The span of a node that is a single token."""
        meta = node.meta
        if "start" in meta:
            return meta["start"], meta["end"]
        token = self._leaves.get(id(node))
        if token is not None:
            return token.start, token.end
        if isinstance(node, exp.Column) and isinstance(node.this, exp.Identifier):
            return self._own(node.this)
        return None

    def _span(self, node: exp.Expression) -> tuple[int, int] | None:
        """The first and last offsets of the positioned tokens under ``node``."""
        spans = [span for child in node.walk() if (span := self._own(child)) is not None]
        if not spans:
            return None
        return min(start for start, _ in spans), max(end for _, end in spans)

    def _start(self, node: exp.Expression) -> int | None:
        own = self._own(node)
        if own is not None:
            return own[0]
        left = node.args.get("this")
        if isinstance(node, exp.Not):
            return self._not(node)
        infix = isinstance(node, (exp.Binary, exp.Between, exp.In, exp.Is, exp.Alias))
        if infix and isinstance(left, exp.Expression):
            left_span = self._span(left)
            if left_span is not None:
                token = self._after(left_span[1], skip=(TokenType.R_PAREN,))
                return token.start if token else None
        span = self._span(node)
        if span is None:
            return self._right_operand(node)
        skip = () if isinstance(node, exp.Paren) else (TokenType.L_PAREN, TokenType.WHEN)
        token = self._before(span[0], skip=skip)
        return token.start if token else span[0]

    def _right_operand(self, node: exp.Expression) -> int | None:
        """A token-less leaf to the right of an operator (``a = ?``): the token after it."""
        parent = node.parent
        if parent is None or node.arg_key != "expression":
            return None
        operator = self._start(parent)
        token = self._after(operator, skip=()) if operator is not None else None
        return token.start if token else None

    def _not(self, node: exp.Not) -> int | None:
        """``NOT x``, or the NOT inside ``x NOT IN``, ``x NOT BETWEEN``, ``x IS NOT NULL``."""
        span = self._span(node)
        if span is None:
            return None
        before = self._before(span[0], skip=(TokenType.L_PAREN,))
        if before is not None and before.token_type == TokenType.NOT:
            return before.start
        for token in self.tokens:
            if span[0] <= token.start <= span[1] and token.token_type == TokenType.NOT:
                return token.start
        return span[0]

    def _after(self, offset: int, *, skip: tuple[TokenType, ...]) -> Token | None:
        for token in self.tokens:
            if token.start > offset and token.token_type not in skip:
                return token
        return None

    def _before(self, offset: int, *, skip: tuple[TokenType, ...]) -> Token | None:
        for token in reversed(self.tokens):
            if token.end < offset and token.token_type not in skip:
                return token
        return None
