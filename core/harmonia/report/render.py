"""Rendering a report's sections into one self-contained HTML file."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import attrs
from markupsafe import Markup

from harmonia.errors import ConfigError
from harmonia.report.context import ReportContext
from harmonia.report.sections import SECTIONS, Section


@attrs.frozen
class _Part:
    name: str
    title: str
    html: Markup | None
    empty: str


def render_report(context: ReportContext, sections: Sequence[Section] = SECTIONS) -> str:
    """The report as HTML text: every section in order, plotly.js inlined once."""
    try:
        import jinja2

        from harmonia.report.charts import plotly_js
    except ImportError:
        raise ConfigError(
            "reports need jinja2 and plotly", fix="pip install 'harmonia[report]'"
        ) from None
    from importlib.metadata import version

    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("harmonia.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    parts = [_Part(s.name, s.title, s.build(context), s.empty) for s in sections]
    cycle = context.cycle
    return environment.get_template("report.html.j2").render(
        title=context.title,
        subtitle=(
            f"{cycle.status} (lifecycle); rule set {cycle.rule_set} v{cycle.rule_set_version}, "
            f"{cycle.customers:,} customers; "
            f"report made {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC"
        ),
        parts=parts,
        plotly_js=plotly_js(),
        version=version("harmonia"),
    )


def write_report(
    context: ReportContext, path: Path, sections: Sequence[Section] = SECTIONS
) -> Path:
    """Write the report to ``path`` (its folder is created)."""
    html = render_report(context, sections)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return path
