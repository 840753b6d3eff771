"""National identifiers: unique, valid values for a scheme, computed vectorized.

The generator fills schemes whose pattern is a fixed-length run of digits:
``\\d{11}``, ``1\\d{10}`` (RPPS), ``(?:\\d{2}|2[AB])\\d{7}`` (FINESS: the first
all-digit alternative is used). Such a pattern reads as a *template*: each
position is a fixed digit or a free one.

A value is a bijection of the customer's position in the universe, so values
are unique without bookkeeping and do not depend on how the universe is
chunked: ``position -> multiplier * position + offset (mod space)``, with the
multiplier coprime to the size of the space, spread over the free positions;
then the Luhn check digit when the scheme declares one. A scheme with its own
``validate`` function gets Luhn check digits if a sample of such values
passes it, plain digits otherwise; a scheme neither fits is not filled.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from harmonia import IdentifierScheme, InvalidIdentifier

#: int64 holds every 18-digit number.
MAX_DIGITS = 18
#: Values checked with the scheme's own ``check`` before a codec is trusted.
SAMPLE = 64

#: One position of a template: a fixed digit, or None for any digit.
Slot = str | None


def digit_template(pattern: str) -> tuple[Slot, ...] | None:
    """The positions of the digits-only strings ``pattern`` accepts, or None.

    Understands digits, ``\\d``, ``[0-9]``, ``{n}`` and groups with
    alternatives; anything else (letters, ``+``, ``{m,n}`` ...) makes an
    alternative unusable, and a pattern without a usable one gives None.
    """
    reader = _PatternReader(pattern)
    template = reader.alternatives()
    if reader.position != len(pattern) or not template:
        return None
    return tuple(template)


class _PatternReader:
    """A recursive-descent reader for the small regular-expression subset above."""

    def __init__(self, pattern: str):
        self.pattern = pattern
        self.position = 0

    def alternatives(self) -> list[Slot] | None:
        """The first usable alternative of ``a|b|...`` up to ``)`` or the end."""
        found = [self.sequence()]
        while self._peek("|"):
            self.position += 1
            found.append(self.sequence())
        return next((alternative for alternative in found if alternative is not None), None)

    def sequence(self) -> list[Slot] | None:
        slots: list[Slot] | None = []
        while self.position < len(self.pattern) and self.pattern[self.position] not in "|)":
            atom = self._atom()
            count = self._repeat()
            if atom is None or count is None or slots is None:
                slots = None
                continue
            slots.extend(atom * count)
        return slots

    def _atom(self) -> list[Slot] | None:
        for token, slot in ((r"\d", None), ("[0-9]", None)):
            if self._peek(token):
                self.position += len(token)
                return [slot]
        char = self.pattern[self.position]
        self.position += 1
        if char.isdigit():
            return [char]
        if char == "(":
            self.position += 2 if self._peek("?:") else 0
            inner = self.alternatives()
            if not self._peek(")"):
                return None
            self.position += 1
            return inner
        if char in "^$":  # anchors: the pattern is matched whole anyway
            return []
        if char == "[":  # a class other than [0-9]: skip it whole
            self.position = self.pattern.find("]", self.position) + 1 or len(self.pattern)
        elif char == "\\":
            self.position += 1
        return None

    def _repeat(self) -> int | None:
        """``{n}`` after an atom: n; no quantifier: 1; any other quantifier: None."""
        if self._peek("{"):
            end = self.pattern.find("}", self.position)
            inside = self.pattern[self.position + 1 : end] if end > 0 else ""
            self.position = end + 1 if end > 0 else len(self.pattern)
            return int(inside) if inside.isdigit() else None
        if self.position < len(self.pattern) and self.pattern[self.position] in "+*?":
            self.position += 1
            return None
        return 1

    def _peek(self, token: str) -> bool:
        return self.pattern.startswith(token, self.position)


def codecs_for(
    schemes: Sequence[IdentifierScheme], *, seed: int, capacity: int, limit: int
) -> list[IdentifierCodec]:
    """Codecs for the first ``limit`` schemes the generator can fill, in the order given."""
    codecs: list[IdentifierCodec] = []
    for scheme in schemes:
        if len(codecs) == limit:
            break
        codec = IdentifierCodec.for_scheme(scheme, seed=seed, capacity=capacity)
        if codec is not None:
            codecs.append(codec)
    return codecs


@dataclass(frozen=True)
class IdentifierCodec:
    """Turns customer positions into valid, unique identifier values of one scheme."""

    scheme: IdentifierScheme
    template: tuple[Slot, ...]
    luhn: bool
    multiplier: int = 1
    offset: int = 0

    @classmethod
    def for_scheme(
        cls, scheme: IdentifierScheme, *, seed: int, capacity: int
    ) -> IdentifierCodec | None:
        """A codec for ``capacity`` customers, or None when the generator cannot fill the scheme.

        Raises ``ValueError`` when the scheme has fewer values than customers.
        """
        template = digit_template(scheme.pattern)
        if template is None or len(template) > MAX_DIGITS:
            return None
        for luhn in _luhn_choices(scheme, template):
            codec = cls(scheme, template, luhn)
            if codec.space < capacity:
                raise ValueError(
                    f"identifier scheme {scheme.name} has only {codec.space:,} distinct values "
                    f"for {capacity:,} customers; generate fewer customers"
                )
            codec = codec._scattered(seed, capacity)
            if codec._passes_its_scheme():
                return codec
        return None

    @property
    def free_digits(self) -> int:
        """Free positions before the check digit (all of them without one)."""
        return sum(slot is None for slot in self._body)

    @property
    def space(self) -> int:
        """How many values there are; a free first digit is never 0, so spreadsheets keep it."""
        if self.free_digits == 0:
            return 1
        if self.template[0] is None:
            return 9 * 10 ** (self.free_digits - 1)
        return 10**self.free_digits

    def values(self, positions: np.ndarray) -> pa.Array:
        """The identifier of each customer position, as text."""
        numbers = (self.multiplier * positions.astype(np.int64) + self.offset) % self.space
        if self.template[0] is None and self.free_digits:
            numbers += 10 ** (self.free_digits - 1)
        body = self._fill(numbers)
        if self.luhn:
            body = body * 10 + luhn_check_digits(body, len(self._body), self.scheme.prefix)
        return pc.utf8_lpad(pc.cast(pa.array(body), pa.string()), len(self.template), "0")

    @property
    def _body(self) -> tuple[Slot, ...]:
        return self.template[:-1] if self.luhn else self.template

    def _fill(self, numbers: np.ndarray) -> np.ndarray:
        """Fixed digits where the template has them, the digits of ``numbers`` elsewhere."""
        body = np.zeros(len(numbers), dtype=np.int64)
        rest = numbers.copy()
        for power, slot in enumerate(reversed(self._body)):
            if slot is None:
                rest, digit = np.divmod(rest, 10)
                body += digit * 10**power
            else:
                body += int(slot) * 10**power
        return body

    def _scattered(self, seed: int, capacity: int) -> IdentifierCodec:
        """This codec with a multiplier and offset drawn from the seed."""
        # Stream 1 of the seed: blocks use stream 0 (see Universe.streams).
        rng = np.random.default_rng([seed, 1, zlib.crc32(self.scheme.name.encode())])
        # Keep multiplier * position inside int64 for every position we will see.
        ceiling = max(2, min(self.space, (2**62) // max(capacity, 1)))
        multiplier = int(rng.integers(ceiling // 2, ceiling)) | 1
        while math.gcd(multiplier, self.space) != 1:
            multiplier += 2
        offset = int(rng.integers(0, self.space))
        return IdentifierCodec(self.scheme, self.template, self.luhn, multiplier, offset)

    def _passes_its_scheme(self) -> bool:
        """Whether sample values pass the scheme's own check: pattern, checksum and validate."""
        try:
            for value in self.values(np.arange(SAMPLE)).to_pylist():
                self.scheme.check(value)
        except InvalidIdentifier:
            return False
        return True


def _luhn_choices(scheme: IdentifierScheme, template: tuple[Slot, ...]) -> tuple[bool, ...]:
    """Whether to add a Luhn check digit: as declared, else try with then without."""
    can_luhn = template[-1] is None and (scheme.prefix == "" or scheme.prefix.isdigit())
    if scheme.checksum == "luhn":
        return (True,) if can_luhn else ()
    if scheme.validate is not None and can_luhn:
        return (True, False)
    return (False,)


def luhn_check_digits(bodies: np.ndarray, digits: int, prefix: str = "") -> np.ndarray:
    """The Luhn check digit that makes ``prefix + body + check`` valid, for each body.

    Counting from the right with the check digit at position 0, digits at odd
    positions are doubled; the prefix is the same for every value, so its
    share of the sum is computed once.
    """
    total = np.zeros(len(bodies), dtype=np.int64)
    rest = bodies.astype(np.int64)
    for position in range(1, digits + 1):
        rest, digit = np.divmod(rest, 10)
        total += _luhn_term(digit) if position % 2 else digit
    for position, char in enumerate(reversed(prefix), start=digits + 1):
        digit = int(char)
        total += (digit * 2 - 9 * (digit >= 5)) if position % 2 else digit
    return (10 - total % 10) % 10


def _luhn_term(digit: np.ndarray) -> np.ndarray:
    doubled = digit * 2
    return np.where(doubled > 9, doubled - 9, doubled)
