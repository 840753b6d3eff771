"""Generate docs/definitions.md from the definition classes packs declare.

Every field of every definition (country profile, rule set and its features,
refinement policy, engagement strategy, identifier scheme) is listed with its
type, its default and the ``#:`` comment above it in the class; the global
option catalogue is listed from ``catalogue.toml``. ``tests/test_definition_docs.py``
fails when a field has no comment or the page is stale, so after changing a
definition run::

    python tools/gen_definition_docs.py
"""

from __future__ import annotations

import inspect
import re
import sys
import textwrap
import tomllib
from pathlib import Path
from typing import Any

import attrs

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "definitions.md"

#: Fields every definition carries and harmonia fills in: not declared by packs.
FILLED_IN = {"provenance"}


def sections() -> list[tuple[str, str, list[type]]]:
    """(title, introduction, classes) of each part of the page, in reading order."""
    from harmonia.definitions import (
        AttributeFeature,
        AutoRule,
        ChannelPlan,
        ConsistencyFeature,
        CountryProfile,
        CsvConventions,
        Dimension,
        EngagementStrategy,
        Matrix,
        MatrixAxis,
        MetricFeature,
        Missing,
        ProfileFeature,
        PullThrough,
        QuantileFeature,
        RefinementPolicy,
        Rule,
        RuleSet,
        Survivorship,
        TherapyAreaChoice,
    )
    from harmonia.definitions.ruleset import MetricBounds, PullThroughTest
    from harmonia.definitions.strategy import ResponseCurve
    from harmonia.plugin.types import IdentifierScheme

    return [
        (
            "Country profiles",
            "A market's choices among the global options (`harmonia_country_profiles`; "
            "TOML, one profile per file or `[[countries]]`). Every choice the option "
            "catalogue lists must be within it, or the pack is refused.",
            [CountryProfile, CsvConventions, PullThrough, TherapyAreaChoice, Survivorship],
        ),
        (
            "Rule sets",
            "A therapy area's standardized segmentation (`harmonia_segmentation_rules`; "
            "TOML). Features are computed per customer; each dimension's rules are tried "
            "in order, then its matrix, then its fallback.",
            [
                RuleSet,
                Dimension,
                Rule,
                Matrix,
                MatrixAxis,
                PullThroughTest,
                MetricBounds,
                MetricFeature,
                QuantileFeature,
                ConsistencyFeature,
                ProfileFeature,
                AttributeFeature,
                Missing,
            ],
        ),
        (
            "Refinement policies",
            "The limits of field refinement (`harmonia_refinement_policies`; TOML, "
            "`[[policies]]`), named by country profiles.",
            [RefinementPolicy, AutoRule],
        ),
        (
            "Engagement strategies",
            "Per therapy area, variant and segment: channels, frequencies and costs "
            "(`harmonia_engagement_strategies`; TOML, `[[strategies]]`).",
            [EngagementStrategy, ChannelPlan, ResponseCurve],
        ),
        (
            "Identifier schemes",
            "National identifiers (`harmonia_identifier_schemes`), built in Python "
            "because a scheme may carry a `validate` function; everything else is "
            "declared and checked vectorized at ingest.",
            [IdentifierScheme],
        ),
    ]


def field_comments(cls: type) -> dict[str, str]:
    """The ``#:`` comment lines right above each field of ``cls``'s class body."""
    source = textwrap.dedent(inspect.getsource(cls))
    comments: dict[str, str] = {}
    pending: list[str] = []
    for line in source.splitlines()[1:]:
        stripped = line.strip()
        if stripped.startswith("#:"):
            pending.append(stripped[2:].strip())
            continue
        match = re.match(r"(\w+)\s*:", stripped)
        if match and line.startswith("    ") and not line.startswith("     ") and pending:
            comments[match.group(1)] = " ".join(pending)
        pending = []
    return comments


def annotation(cls: type, name: str) -> Any:
    """A field's annotation as written in the source (other code may resolve ``field.type``)."""
    for klass in cls.__mro__:
        if name in vars(klass).get("__annotations__", {}):
            return vars(klass)["__annotations__"][name]
    return ""


def type_name(annotation: Any) -> str:
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
    text = str(text or annotation)
    text = re.sub(r"typing\.|harmonia\.[\w.]+\.", "", text)
    return text.replace("|", "or").replace("  ", " ")


def default_text(field: attrs.Attribute) -> str:
    default = field.default
    if default is attrs.NOTHING:
        return "required"
    if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
        default = default.factory()
    if attrs.has(type(default)):
        return "see below"
    if default is None:
        return "none"
    if isinstance(default, bool):
        return "true" if default else "false"
    if isinstance(default, str):
        return f'`"{default}"`'
    if isinstance(default, tuple | list):
        return "`[" + ", ".join(f'"{v}"' if isinstance(v, str) else str(v) for v in default) + "]`"
    if isinstance(default, dict):
        return "`{}`" if not default else f"`{default}`"
    return f"`{default}`"


def class_section(cls: type) -> list[str]:
    doc = inspect.getdoc(cls) or ""
    comments = field_comments(cls)
    lines = [f"### `{cls.__name__}`", "", markdown(doc), ""]
    rows = [
        f"| `{field.name}` | {type_name(annotation(cls, field.name))} | {default_text(field)} | "
        f"{markdown(comments.get(field.name, ''))} |"
        for field in attrs.fields(cls)
        if field.name not in FILLED_IN and not field.name.startswith("_")
    ]
    lines += ["| field | type | default | meaning |", "|---|---|---|---|", *rows, ""]
    return lines


def markdown(text: str) -> str:
    text = re.sub(r":\w+:`~[\w.]*?\.?(\w+)`", r"`\1`", text)
    text = re.sub(r":\w+:`([\w.]+)`", r"`\1`", text)
    return re.sub(r"``(.+?)``", r"`\1`", text)


def catalogue_section() -> list[str]:
    path = ROOT / "core" / "harmonia" / "builtin" / "data" / "catalogue.toml"
    options = tomllib.loads(path.read_text(encoding="utf-8"))["options"]
    lines = [
        "### The global option catalogue",
        "",
        "What a country profile may choose (`core/harmonia/builtin/data/catalogue.toml`, "
        "owned by the global team). `parameters.*` are set in the profile's "
        "`[parameters]` table.",
        "",
        "| option | allowed | default | meaning |",
        "|---|---|---|---|",
    ]
    for option in options:
        if "choices" in option:
            allowed = ("any of " if option.get("multiple") else "") + ", ".join(
                f"`{c}`".lower() if isinstance(c, bool) else f"`{c}`" for c in option["choices"]
            )
        else:
            allowed = f"{option.get('minimum', '-inf')} to {option.get('maximum', 'inf')}"
        default = option.get("default")
        default = (
            ", ".join(f"`{d}`" for d in default)
            if isinstance(default, list)
            else f"`{str(default).lower() if isinstance(default, bool) else default}`"
        )
        lines.append(f"| `{option['name']}` | {allowed} | {default} | {option['description']} |")
    return [*lines, ""]


def sinks_section() -> list[str]:
    """The built-in output sinks: what each writes and its options (``--sink NAME:KEY=VALUE``)."""
    from harmonia.plugin.manager import PluginManager

    manager = PluginManager(strict=True)
    manager.load_builtins()
    lines = [
        "## Output sinks",
        "",
        "What a cycle writes (`harmonia cycle run --sink NAME:KEY=VALUE --output KIND`). "
        "The outputs are `target_list` (targeted customers with their source and national "
        "ids, segment, strategy, contacts per channel and cost, by territory), "
        "`segment_summary` (per segment: customers, pulled through, contacts, cost, "
        "revenue) and `assignments` (every customer: harmonia id, one source system and "
        "id, one national identifier, each dimension's segment and the rule that fired, "
        "final segment, origin, inputs as JSON). The built-in sinks:",
        "",
        "| sink | writes | option | meaning |",
        "|---|---|---|---|",
    ]
    for sink in sorted(manager.catalog().output_sinks.values(), key=lambda s: s.name):
        accepts = ", ".join(f"`{kind}`" for kind in sorted(sink.accepts))
        options = sink.options or ()
        if not options:
            lines.append(f"| `{sink.name}` | {accepts} | | |")
        for index, option in enumerate(options):
            first = index == 0
            lines.append(
                f"| {'`' + sink.name + '`' if first else ''} | {accepts if first else ''} | "
                f"`{option.name}` | {option.description} |"
            )
    return [*lines, ""]


def render() -> str:
    from harmonia.plugin.types import CHECKSUMS

    lines = [
        "# Definition reference",
        "",
        "<!-- Generated from the definition classes by tools/gen_definition_docs.py; "
        "do not edit by hand. -->",
        "",
        "Every field a pack declares, with its type, default and meaning. Packs write "
        "them in TOML (questionnaires in FHIR JSON, see [hooks.md](hooks.md)); one "
        "converter reads them and reports every error at once with its path "
        "(`segment.rules[2].when`). A field marked *required* has no default.",
        "",
    ]
    for title, introduction, classes in sections():
        lines += [f"## {title}", "", introduction, ""]
        for cls in classes:
            lines += class_section(cls)
        if title == "Country profiles":
            lines += catalogue_section()
        if title == "Identifier schemes":
            lines += [
                f"Check-digit algorithms (`checksum`): {', '.join(f'`{c}`' for c in CHECKSUMS)}.",
                "",
            ]
    lines += sinks_section()
    return "\n".join(lines).rstrip() + "\n"


def main() -> int:
    OUTPUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
