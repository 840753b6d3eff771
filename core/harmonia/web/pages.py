"""The pages: sign in, the cycles open for feedback, a territory's proposal, the queue."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from harmonia.errors import HarmoniaError

if TYPE_CHECKING:
    from collections.abc import Callable

    from harmonia.app import Harmonia

COOKIE = "harmonia_token"
#: Everything escaped: Starlette's default escapes only names ending in .html,
#: and these templates end in .html.j2 (a rep's comment must never run as script
#: in a manager's browser).
TEMPLATES = Jinja2Templates(
    env=jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"), autoescape=True
    )
)

#: The statuses a cycle takes requests or decisions in.
OPEN = ("feedback", "review")


def create_app(harmonia: Harmonia) -> Starlette:
    """The web application over one :class:`~harmonia.app.Harmonia`."""
    pages = _Pages(harmonia)
    routes = [
        Route("/", pages.index),
        # Browsers ask for it on every site; there is none, and a 404 is noise.
        Route("/favicon.ico", lambda request: Response(status_code=204)),
        Route("/login", pages.login, methods=["GET", "POST"]),
        Route("/logout", pages.logout, methods=["POST"]),
        Route("/cycles/{cycle:int}", pages.cycle),
        Route("/cycles/{cycle:int}/requests", pages.requests, methods=["POST"]),
        Route("/cycles/{cycle:int}/accounts", pages.accounts, methods=["POST"]),
        Route("/cycles/{cycle:int}/decisions", pages.decisions, methods=["POST"]),
    ]
    return Starlette(routes=routes)


class _Pages:
    def __init__(self, harmonia: Harmonia) -> None:
        self.harmonia = harmonia

    # -- who is acting ------------------------------------------------------------------

    def _person(self, request: Request) -> str | None:
        return self.harmonia.refinement.person_of_token(request.cookies.get(COOKIE, ""))

    def _page(self, request: Request, name: str, status: int = 200, **context: Any) -> Response:
        return TEMPLATES.TemplateResponse(request, name, context, status_code=status)

    def _error(
        self, request: Request, person: str | None, error: Exception, status: int
    ) -> Response:
        return self._page(request, "error.html.j2", status, person=person, error=error)

    # -- pages --------------------------------------------------------------------------

    async def login(self, request: Request) -> Response:
        if request.method == "GET":
            return self._page(request, "login.html.j2", person=None, failed=False)
        form = await request.form()
        token = str(form.get("token", "")).strip()
        person = self.harmonia.refinement.person_of_token(token)
        if person is None:
            return self._page(request, "login.html.j2", 401, person=None, failed=True)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict")
        return response

    async def logout(self, request: Request) -> Response:
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE)
        return response

    def index(self, request: Request) -> Response:
        person = self._person(request)
        if person is None:
            return RedirectResponse("/login", status_code=303)
        territories = self.harmonia.refinement.territories_of(person)
        market = self.harmonia.refinement.market_of(person)
        cycles = [
            c for c in self.harmonia.cycles.list() if c.status in OPEN and c.country == market
        ]
        return self._page(
            request, "index.html.j2", person=person, territories=territories, cycles=cycles
        )

    def cycle(self, request: Request) -> Response:
        person = self._person(request)
        if person is None:
            return RedirectResponse("/login", status_code=303)
        cycle_id = int(request.path_params["cycle"])
        try:
            return self._cycle(request, person, cycle_id, request.query_params.get("territory"))
        except HarmoniaError as error:
            return self._error(request, person, error, 404)

    def _cycle(
        self, request: Request, person: str, cycle_id: int, territory: str | None, **extra: Any
    ) -> Response:
        refinement = self.harmonia.refinement
        cycle = refinement.cycle(cycle_id)
        if cycle.country != refinement.market_of(person):
            error = PermissionError(f"cycle {cycle_id} is of {cycle.country}, not your market")
            return self._error(request, person, error, 403)
        mine = refinement.territories_of(person)
        if not mine:
            return self._error(request, person, PermissionError("you have no territory"), 403)
        territory = territory or mine[0]
        if territory not in mine:
            error = PermissionError(f"territory {territory} is not yours ({', '.join(mine)})")
            return self._error(request, person, error, 403)
        policy = refinement.policy(cycle)
        orders = refinement.orders(cycle)
        dimensions = [d for d in policy.dimensions if d in orders]
        rows = refinement.proposal(cycle_id, territory).to_pylist()
        for row in rows:
            row["choices"] = {
                d: refinement.allowed_moves(orders[d], row[d], policy.moves) for d in dimensions
            }
        asked = [
            r for r in refinement.requests(cycle_id, person=person) if r.territory == territory
        ]
        manager = refinement.is_manager(person)
        queue = refinement.queue(cycle_id, person) if manager else None
        return self._page(
            request,
            "cycle.html.j2",
            person=person,
            cycle=cycle,
            policy=policy,
            territory=territory,
            territories=mine,
            dimensions=dimensions,
            goals="goal" in policy.dimensions,
            accounts=[kind for kind in ("add", "keep") if kind in policy.dimensions],
            rows=rows,
            asked=asked,
            queue=queue,
            taking=cycle.status == "feedback",
            deciding=manager and cycle.status in OPEN,
            **extra,
        )

    async def requests(self, request: Request) -> Response:
        def changes(form: Any, person: str, cycle_id: int, territory: str) -> list:
            refinement = self.harmonia.refinement
            dimensions = refinement.policy(refinement.cycle(cycle_id)).dimensions
            proposal = refinement.proposal(cycle_id, territory).to_pylist()
            asked = _changes(form, proposal, dimensions, person)
            return refinement.submit(cycle_id, asked).requests if asked else []

        return await self._submitted(request, changes)

    async def accounts(self, request: Request) -> Response:
        """An account added to, or kept on, one of the person's territories (by its id:
        the customer is not on the page, which shows their territory only)."""

        def account(form: Any, person: str, cycle_id: int, territory: str) -> list:
            return self.harmonia.refinement.request(
                cycle_id,
                str(form.get("customer", "")).strip(),
                action=str(form.get("kind", "")),
                value=territory,
                reason=str(form.get("reason", "")),
                comment=str(form.get("comment", "")),
                requester=person,
            ).requests

        return await self._submitted(request, account)

    async def _submitted(
        self, request: Request, submit: Callable[[Any, str, int, str], list]
    ) -> Response:
        """A rep's form on one of their own territories: ``submit`` makes the requests
        (another territory is refused before anything is read)."""
        person = self._person(request)
        if person is None:
            return RedirectResponse("/login", status_code=303)
        cycle_id = int(request.path_params["cycle"])
        form = await request.form()
        territory = str(form.get("territory", ""))
        if territory not in self.harmonia.refinement.territories_of(person):
            error = PermissionError(f"territory {territory} is not yours")
            return self._error(request, person, error, 403)
        try:
            submitted = submit(form, person, cycle_id, territory)
        except HarmoniaError as error:
            return self._error(request, person, error, 409)
        return self._cycle(request, person, cycle_id, territory, submitted=submitted)

    async def decisions(self, request: Request) -> Response:
        person = self._person(request)
        if person is None:
            return RedirectResponse("/login", status_code=303)
        cycle_id = int(request.path_params["cycle"])
        form = await request.form()
        try:
            ids = [int(value) for value in form.getlist("request")]
        except ValueError:
            wrong = ", ".join(repr(v) for v in form.getlist("request") if not str(v).isdigit())
            error = ValueError(f"request {wrong} is not a request number: pick them in the queue")
            return self._error(request, person, error, 400)
        decision = str(form.get("decision", ""))
        try:
            decided = self.harmonia.refinement.decide(
                cycle_id, ids, decision, comment=str(form.get("comment", "")), manager=person
            )
        except HarmoniaError as error:
            return self._error(request, person, error, 409)
        territory = str(form.get("territory", "")) or None
        return self._cycle(request, person, cycle_id, territory, decided=decided)


def _changes(
    form: Any, proposal: list[dict[str, Any]], dimensions: tuple[str, ...], person: str
) -> list[dict[str, Any]]:
    """The rows of the form whose value differs from the proposal, as requests.

    Only customers of the proposal are read: a customer id typed into the form
    by hand is not one of them, so nothing of another territory can be asked.
    """
    changes = []
    for number, row in enumerate(proposal, start=1):
        key = f"c{row['harmonia_id']}"
        for dimension in dimensions:
            value = str(form.get(f"{key}_{dimension}", "") or "").strip()
            current = row.get(dimension)  # a goal is a number of calls
            if value and value != ("" if current is None else str(current)):
                changes.append(
                    {
                        "_row": number,
                        "customer_id": row["harmonia_id"],
                        "requester": person,
                        "action": dimension,
                        "new_value": value,
                        "reason": str(form.get(f"{key}_reason", "") or "") or None,
                        "comment": str(form.get(f"{key}_comment", "") or ""),
                    }
                )
    return changes
