"""``harmonia serve``: the web page for reps and managers (see :mod:`harmonia.web`)."""

from __future__ import annotations

import click

from harmonia.cli import app
from harmonia.cli.render import stdout


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="The port.")
def serve(host: str, port: int) -> None:
    """Serve the refinement page: reps refine their territory, managers decide.

    \b
    harmonia refinement token rita     # once per person: their sign-in token
    harmonia serve --port 8000         # then open http://127.0.0.1:8000
    """
    try:
        import uvicorn

        from harmonia.web import create_app
    except ImportError as error:
        raise click.ClickException(
            f"the web page needs its extra: pip install 'harmonia[web]' ({error})"
        ) from None
    harmonia = app()
    harmonia.existing_database  # noqa: B018 - a mistyped database fails now, not per page
    stdout.print(f"harmonia serves http://{host}:{port} (Ctrl+C stops)")
    uvicorn.run(create_app(harmonia), host=host, port=port, log_level="warning")
