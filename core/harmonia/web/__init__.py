"""The web page for reps and managers (``harmonia serve``).

A small Starlette application whose pages are rendered on the server (Jinja2)
and whose forms are plain HTML forms: no JavaScript, no build chain, so it
works in any browser a field force has and a test drives it like a person.
Starlette because it is the well-kept ASGI toolkit under FastAPI, without an
API layer this page does not need; uvicorn serves it.

Like the CLI it parses, calls the application (``app.refinement``) and
renders; who acts is the person whose token signed in (``harmonia refinement
token PERSON``), kept in an HTTP-only, same-site cookie. A rep sees and
changes their own territory only; a manager every territory below them.
"""

from harmonia.web.pages import create_app

__all__ = ["create_app"]
