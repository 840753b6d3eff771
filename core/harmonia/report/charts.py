"""Plotly figures as HTML fragments; the page inlines plotly.js once."""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

#: Colours of the report, in the order series use them.
PALETTE = ("#1f4e79", "#d9822b", "#3c8d5a", "#a23b72", "#6c757d", "#c0392b")


def plotly_js() -> Markup:
    """The whole plotly.js library, to inline in the page's head."""
    from plotly.offline import get_plotlyjs

    return Markup(get_plotlyjs())


def figure(fig: Any, *, height: int = 340) -> Markup:
    """A figure as a div and the script that draws it (plotly.js comes from the page)."""
    import plotly.io as pio

    fig.update_layout(
        height=height,
        margin={"l": 60, "r": 20, "t": 30, "b": 50},
        font={"family": "system-ui, sans-serif", "size": 12},
        colorway=list(PALETTE),
        plot_bgcolor="white",
        legend={"orientation": "h", "y": -0.2},
    )
    fig.update_xaxes(showgrid=False)
    fig.update_yaxes(gridcolor="#e5e5e5")
    html = pio.to_html(fig, include_plotlyjs=False, full_html=False, config={"displaylogo": False})
    return Markup(html)


def bars(
    categories: list[str], series: dict[str, list[float]], *, title: str = "", stacked: bool = False
) -> Markup:
    import plotly.graph_objects as go

    fig = go.Figure([go.Bar(name=name, x=categories, y=values) for name, values in series.items()])
    fig.update_layout(barmode="stack" if stacked else "group", title=title or None)
    return figure(fig)


def heatmap(
    rows: list[str], columns: list[str], values: list[list[float]], *, title: str
) -> Markup:
    import plotly.graph_objects as go

    fig = go.Figure(
        go.Heatmap(
            z=values,
            x=columns,
            y=rows,
            colorscale="Blues",
            text=[[f"{v:,.0f}" for v in row] for row in values],
            texttemplate="%{text}",
            showscale=False,
        )
    )
    fig.update_layout(title=title)
    fig.update_yaxes(autorange="reversed")
    return figure(fig, height=80 + 40 * max(len(rows), 3))


def histogram(values: list[float], *, title: str, x_title: str) -> Markup:
    import plotly.graph_objects as go

    fig = go.Figure(go.Histogram(x=values, nbinsx=20))
    fig.update_layout(title=title, xaxis_title=x_title, yaxis_title="territories")
    return figure(fig)
