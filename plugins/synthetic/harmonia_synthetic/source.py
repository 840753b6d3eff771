"""The ``synthetic`` data source: a universe generated on the fly instead of read.

    harmonia load --source synthetic --country FR --option customers=100000 --option seed=7

The country comes from the load; the questionnaire (the newest version of the
therapy area's) and the identifier schemes (the country's, in the order its
profile lists them) come from the installed packs. This module stays cheap to
import: numpy loads only when a universe is read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from harmonia import (
    Batch,
    ConfigError,
    DataSource,
    IdentifierScheme,
    Option,
    Questionnaire,
    SourceRequest,
)

NAME = "synthetic"
DEFAULT_COUNTRY = "FR"

OPTIONS = (
    Option("customers", "how many customers to generate (about 95% HCPs, 5% HCOs)", default="1000"),
    Option("seed", "random seed: the same seed and options give the same universe", default="42"),
    Option(
        "therapy_area",
        "therapy area of the specialty mix, metrics and questionnaire",
        default="oncology",
    ),
    Option("period", "cycle period the data leads up to, e.g. 2027-H1", default="2027-H1"),
    Option("coverage", "share of HCPs who answered the questionnaire (0 to 1)", default="0.3"),
    Option(
        "error_rate",
        "share of rows spoiled on purpose to exercise quarantine (0 to 1)",
        default="0",
    ),
    Option("chunk_size", "customers per batch; does not change the data", default="250000"),
)


def data_source() -> DataSource:
    return DataSource(
        name=NAME,
        description="A realistic synthetic customer universe (customers, metrics, responses), "
        "deterministic by seed: for demos, tests and benchmarks.",
        kinds={"customers", "metrics", "responses"},
        family="local",
        read=read,
        options=OPTIONS,
    )


def read(request: SourceRequest) -> Iterator[Batch]:
    """Generate the universe ``request`` describes; bad options raise :class:`ConfigError`."""
    from harmonia_synthetic.generator import generate

    arguments = generate_arguments(request)
    try:
        return generate(**arguments)
    except ValueError as error:
        raise _option_error(str(error)) from None


def generate_arguments(request: SourceRequest) -> dict[str, Any]:
    """The keyword arguments of :func:`~harmonia_synthetic.generate` for a request."""
    known = {option.name: option.default for option in OPTIONS}
    unknown = sorted(set(request.options) - set(known))
    if unknown:
        raise _option_error(f"unknown options {unknown}; the source takes {sorted(known)}")
    options = {**known, **request.options}
    country = (request.country or DEFAULT_COUNTRY).upper()
    therapy_area = str(options["therapy_area"])
    return {
        "customers": _number(options, "customers", int),
        "seed": _number(options, "seed", int),
        "country": country,
        "therapy_area": therapy_area,
        "period": str(options["period"]),
        "questionnaire": newest_questionnaire(request.questionnaires, therapy_area),
        "identifier_schemes": country_schemes(request, country),
        "coverage": _number(options, "coverage", float),
        "error_rate": _number(options, "error_rate", float),
        "chunk_size": _number(options, "chunk_size", int),
    }


def newest_questionnaire(
    questionnaires: Sequence[Questionnaire], therapy_area: str
) -> Questionnaire | None:
    """The therapy area's questionnaire with the highest version, if any."""
    candidates = [q for q in questionnaires if q.therapy_area == therapy_area]
    return max(candidates, key=lambda q: (_version_key(q.version), q.id), default=None)


def country_schemes(request: SourceRequest, country: str) -> list[IdentifierScheme]:
    """The country's schemes, those its profile names first and in its order."""
    schemes = [scheme for scheme in request.identifier_schemes if scheme.country == country]
    if request.profile is None:
        return schemes
    order = {name: index for index, name in enumerate(request.profile.identifier_schemes)}
    return sorted(schemes, key=lambda scheme: order.get(scheme.name, len(order)))


def _version_key(version: str) -> tuple[tuple[int, int | str], ...]:
    """``1.10`` after ``1.9``; numbers before words so mixed versions still compare."""
    parts = version.replace("-", ".").split(".")
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in parts)


def _number(options: dict[str, Any], name: str, kind: Callable[[str], Any]) -> Any:
    try:
        return kind(str(options[name]).strip())
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise _option_error(f"option {name}={options[name]!r} is not {what}") from None


def _option_error(message: str) -> ConfigError:
    return ConfigError(
        message,
        where=f"data source {NAME}",
        fix="pass options as --option name=value; see `harmonia synthetic write --help`",
    )
