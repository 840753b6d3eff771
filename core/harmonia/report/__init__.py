"""The cycle report: one self-contained HTML file that opens offline.

A report is a list of :class:`~harmonia.report.sections.Section` records,
each a title and a function that turns a
:class:`~harmonia.report.context.ReportContext` (the cycle, its plan, its
scenarios and actuals, computed on first use) into an HTML fragment. The
built-in sections are :data:`~harmonia.report.sections.SECTIONS`: segment
sizes, the migration matrix against the previous cycle, opportunity indices,
the pro forma, capacity by territory, scenarios and actuals against plan.
Other parts of harmonia add theirs (data quality, override analytics) by
passing more sections to :func:`~harmonia.report.render.render_report`.

Charts are Plotly figures; plotly.js is inlined once, so the file needs no
network. Templates are jinja2 with autoescaping. Needs the ``report`` extra
(``pip install 'harmonia[report]'``).
"""
