"""The web page: signed-in reps refine their own territory only, managers decide."""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from field_market import ask

from harmonia import Harmonia

starlette = pytest.importorskip("starlette", reason="the web extra: pip install 'harmonia[web]'")

ARTIFACTS = Path(
    os.environ.get("HARMONIA_TEST_ARTIFACTS", Path(__file__).parents[2] / ".artifacts")
)


def _client(app: Harmonia, person: str | None):
    from starlette.testclient import TestClient

    from harmonia.web import create_app

    client = TestClient(create_app(app))
    if person:
        token = app.refinement.issue_token(person)
        signed = client.post("/login", data={"token": token}, follow_redirects=False)
        assert signed.status_code == 303
    return client


def test_a_rep_refines_their_territory_and_never_sees_another(
    feedback: tuple[Harmonia, int],
) -> None:
    app, cycle = feedback
    assert _client(app, None).get("/", follow_redirects=False).headers["location"] == "/login"
    assert _client(app, None).post("/login", data={"token": "guess"}).status_code == 401
    rita = _client(app, "rita")
    page = rita.get(f"/cycles/{cycle}")
    assert page.status_code == 200
    assert 'id="customer-C01"' in page.text and 'id="customer-C06"' not in page.text
    # The segment drop-down of C01 (champion) offers the adjacent moves only.
    select = re.search(r'name="c1_segment".*?</select>', page.text, re.S).group(0)
    assert re.findall(r'<option value="(\w+)"', select) == ["champion", "grow"]
    assert rita.get(f"/cycles/{cycle}?territory=T2").status_code == 403
    # A form naming T2, or a customer of T2, changes nothing there.
    assert rita.post(f"/cycles/{cycle}/requests", data={"territory": "T2"}).status_code == 403
    sent = rita.post(
        f"/cycles/{cycle}/requests",
        data={"territory": "T1", "c1_segment": "grow", "c1_reason": "access", "c6_segment": "grow"},
    )
    assert sent.status_code == 200
    assert "1 request(s) sent" in sent.text and "one step down because of access" in sent.text
    (stored,) = app.refinement.requests(cycle)
    assert (stored.customer_id, stored.requester, stored.status) == (1, "rita", "accepted")


def test_a_wrong_row_of_a_form_is_kept_rejected_and_the_rest_goes_on(
    feedback: tuple[Harmonia, int],
) -> None:
    """As a workbook's rows are (docs/refinement.md, "Refused whole, or kept row by
    row"): a move the policy forbids is stored as a rejected request with its reason,
    shown on the page, and the form's other change is taken."""
    app, cycle = feedback
    sent = _client(app, "rita").post(
        f"/cycles/{cycle}/requests",
        data={
            "territory": "T1",
            "c2_segment": "monitor",  # grow -> monitor: three steps
            "c2_reason": "data error",
            "c3_tier": "B",
            "c3_reason": "data error",
        },
    )
    assert sent.status_code == 200
    assert "3 steps; the policy allows one step up or down" in sent.text
    stored = sorted(app.refinement.requests(cycle), key=lambda r: r.customer_id)
    assert [(r.customer_id, r.status, r.rule) for r in stored] == [
        (2, "rejected", "policy.moves"),
        (3, "pending", "manager"),
    ]


def test_a_rep_changes_call_goals_within_the_territory_s_capacity(
    feedback: tuple[Harmonia, int],
) -> None:
    app, cycle = feedback
    rita = _client(app, "rita")
    page = rita.get(f"/cycles/{cycle}")
    goal = re.search(r'<input type="number"[^>]*name="c1_goal"[^>]*>', page.text).group(0)
    assert 'value="6"' in goal and "disabled" not in goal
    # A browser sends every goal, changed or not: only the changed ones are requests.
    sent = rita.post(
        f"/cycles/{cycle}/requests",
        data={
            "territory": "T1",
            **{f"c{n}_goal": calls for n, calls in ((1, "6"), (2, "900"), (3, "2"), (4, "1"))},
            "c2_reason": "new information",
            "c3_reason": "new information",
        },
    )
    assert sent.status_code == 200 and "2 request(s) sent" in sent.text
    # In the page's order (by name): C03's 2 calls first, then C02's 900 (12 - 3 + 900).
    assert "calls planned for territory T1 would be 909 against a capacity of 880" in sent.text
    stored = {
        r.customer_id: (r.old_value, r.new_value, r.status) for r in app.refinement.requests(cycle)
    }
    assert stored == {2: ("3", "900", "rejected"), 3: ("1", "2", "pending")}


def test_a_manager_sees_the_queue_and_decides(feedback: tuple[Harmonia, int]) -> None:
    app, cycle = feedback
    waiting = ask(app, cycle, "C03", "tier", "B", "data error", "rita")["id"]
    tom = _client(app, "tom")
    assert "Your review" not in tom.get(f"/cycles/{cycle}?territory=T2").text
    refused = tom.post(
        f"/cycles/{cycle}/decisions", data={"request": waiting, "decision": "accept"}
    )
    assert refused.status_code == 409 and "tom is not a manager" in refused.text
    dora = _client(app, "dora")
    page = dora.get(f"/cycles/{cycle}")
    assert 'id="share"' in page.text and f'id="request-{waiting}"' in page.text
    assert "<th>calls planned</th><th>capacity</th>" in page.text
    assert "<td>11</td><td>880</td>" in page.text  # T1: 6 + 3 + 1 + 1 calls, 1 rep
    decided = dora.post(
        f"/cycles/{cycle}/decisions",
        data={"request": str(waiting), "decision": "accept", "territory": "T1"},
    )
    assert decided.status_code == 200 and "1 request(s) decided" in decided.text
    assert app.refinement.requests(cycle)[0].decided_by == "dora"


def test_what_a_rep_writes_is_shown_as_text_never_run(feedback: tuple[Harmonia, int]) -> None:
    app, cycle = feedback
    script = "<script>document.forms[0].submit()</script>"
    app.refinement.request(
        cycle, "C03", action="tier", value="B", reason="data error", comment=script,
        requester="rita",
    )  # fmt: skip
    page = _client(app, "dora").get(f"/cycles/{cycle}")
    assert page.status_code == 200
    assert script not in page.text and "&lt;script&gt;" in page.text


def test_a_bad_form_is_a_400_and_a_person_sees_their_market_only(
    feedback: tuple[Harmonia, int],
) -> None:
    app, cycle = feedback
    dora = _client(app, "dora")
    bad = dora.post(f"/cycles/{cycle}/decisions", data={"request": "12a", "decision": "accept"})
    assert bad.status_code == 400
    assert "request &#39;12a&#39; is not a request number: pick them in the queue" in bad.text
    assert f'href="/cycles/{cycle}"' in dora.get("/").text
    # A person of another market neither sees the Belgian cycle listed nor opens it.
    from sqlalchemy import text

    with app.database.engine.begin() as connection:
        connection.execute(text("UPDATE roster SET country = 'FR' WHERE person = 'dora'"))
    assert f'href="/cycles/{cycle}"' not in dora.get("/").text
    page = dora.get(f"/cycles/{cycle}")
    assert page.status_code == 403 and f"cycle {cycle} is of BE, not your market" in page.text


@pytest.fixture
def served(feedback: tuple[Harmonia, int]) -> Iterator[tuple[Harmonia, int, str]]:
    """The page served by uvicorn on a free local port: (app, cycle, base URL)."""
    import uvicorn

    from harmonia.web import create_app

    app, cycle = feedback
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(app), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    yield app, cycle, f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_in_a_real_browser_a_rep_asks_and_a_manager_decides(
    served: tuple[Harmonia, int, str],
) -> None:
    app, cycle, base = served
    chromium = Path("/usr/bin/chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as error:
        _unavailable(f"playwright is not installed: {error}")
    if not chromium.exists():
        _unavailable("Chromium is not installed at /usr/bin/chromium (apt-get install chromium)")
    tokens = {person: app.refinement.issue_token(person) for person in ("rita", "dora")}
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"],
        )
        try:
            for person in ("rita", "dora"):
                page = browser.new_context().new_page()
                page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
                page.goto(f"{base}/")
                page.fill("input[name=token]", tokens[person])
                page.click("button[type=submit]")
                assert page.text_content("#person") == person
                page.click(f"a[href='/cycles/{cycle}']")
                if person == "rita":
                    page.select_option("select[aria-label='tier of C03']", "B")
                    page.select_option("select[aria-label='reason of C03']", "data error")
                    page.fill("input[aria-label='comment of C03']", "vu en consultation")
                    page.click("#proposal button[type=submit]")
                    assert "waiting for the decision of dora" in page.text_content("#submitted")
                else:
                    page.check("#decide input[type=checkbox]")
                    page.click("#decide button[value=accept]")
                    assert "1 request(s) decided" in page.text_content("#decided")
                    assert "accepted by dora" in page.text_content("#requests")
                ARTIFACTS.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(ARTIFACTS / f"refinement-{person}.png"), full_page=True)
        finally:
            browser.close()
    assert errors == []
    (decided,) = app.refinement.requests(cycle)
    assert (decided.status, decided.decided_by, decided.comment) == (
        "accepted",
        "dora",
        "vu en consultation",
    )


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(reason + " (CI is set, so this fails instead of skipping)")
    pytest.skip(reason)


def test_a_rep_adds_an_account_of_another_territory_by_its_id(
    feedback: tuple[Harmonia, int],
) -> None:
    app, cycle = feedback
    rita = _client(app, "rita")
    assert 'id="account"' in rita.get(f"/cycles/{cycle}").text
    form = {"territory": "T1", "kind": "add", "customer": "C06", "reason": "access"}
    sent = rita.post(f"/cycles/{cycle}/accounts", data=form)
    assert sent.status_code == 200 and "1 request(s) sent" in sent.text
    # Only to a territory of theirs.
    refused = rita.post(f"/cycles/{cycle}/accounts", data={**form, "territory": "T2"})
    assert refused.status_code == 403
    unknown = rita.post(f"/cycles/{cycle}/accounts", data={**form, "customer": "C99"})
    assert unknown.status_code == 409
    ((customer, action, old, new, status),) = [
        (r.customer_id, r.action, r.old_value, r.new_value, r.status)
        for r in app.refinement.requests(cycle)
    ]
    assert (customer, action, old, new, status) == (6, "add", "T2", "T1", "pending")
