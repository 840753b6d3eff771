"""A cycle segments a person on their golden record, and its sinks show it.

The CRM (csv) loaded Anna (C01) as a cardiologist; a vendor then sends her
(V01, same national identifier: one person, no merge) as a general
practitioner named de Vries-Bakker. Her ``customer`` row keeps the value
given last, the vendor's; the country trusts the CRM first
(``source_priority``), so her golden record is the CRM's cardiologist de
Vries, and every engine must segment and list her as that.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import load, query, tiny_catalog, write

from harmonia.definitions import Survivorship
from harmonia.engine.cycle import run_cycle
from harmonia.master.golden import compute
from harmonia.store import Database

VENDOR = """
customer_id;country;type;first_name;last_name;specialty;postal_code;city;territory;id_scheme;id_value
V01;NL;HCP;Anna;de Vries-Bakker;general_practice;1011;Utrecht;T1;TINY;10000016
"""


@pytest.mark.parametrize("engine", ["duckdb", "database"])
def test_a_linked_person_is_segmented_and_listed_on_the_priority_systems_values(
    universe: str, tmp_path: Path, engine: str
) -> None:
    catalog = tiny_catalog()
    write(tmp_path / "vendor" / "customers.csv", VENDOR)
    load(universe, catalog, tmp_path / "vendor", country="NL", system="vendor")
    [anna] = query(universe, "SELECT customer_id FROM crosswalk WHERE source_id = 'V01'")
    anna = anna["customer_id"]
    [row] = query(universe, f"SELECT specialty, last_name FROM customer WHERE id = {anna}")
    assert row == {"specialty": "general_practice", "last_name": "de Vries-Bakker"}
    crm_first = Survivorship(source_priority=("csv", "vendor"), default="source_priority")
    compute(Database(universe), crm_first, country="NL")

    result = run_cycle(
        Database(universe),
        catalog,
        country="NL",
        therapy_area="cardiology",
        period="2027-H1",
        directory=tmp_path / "out",
        engine=engine,
    )

    [assigned] = query(
        universe,
        "SELECT final_segment FROM assignment "
        f"WHERE cycle_id = {result.cycle.id} AND customer_id = {anna}",
    )
    assert assigned["final_segment"] == "champion"  # a GP would be "monitor", untargeted
    written = {w.output: Path(w.location) for w in result.written}
    lines = written["target_list"].read_text().splitlines()
    header = lines[0].split(";")
    listed = {
        r["harmonia_id"]: r
        for r in (dict(zip(header, line.split(";"), strict=True)) for line in lines[1:])
    }
    anna_listed = listed[str(anna)]
    assert (anna_listed["specialty"], anna_listed["last_name"], anna_listed["city"]) == (
        "cardiology",
        "de Vries",
        "Amsterdam",
    )


def test_a_run_as_of_an_earlier_snapshot_says_whose_golden_values_it_reads_as_now(
    h1: str, tmp_path: Path
) -> None:
    catalog = tiny_catalog()

    def cycle(**options: object):
        return run_cycle(
            Database(h1),
            catalog,
            country="NL",
            therapy_area="cardiology",
            period="2027-H1",
            directory=tmp_path / "out",
            **options,
        )

    before = cycle()
    assert before.golden_as_now == 0
    write(tmp_path / "vendor" / "customers.csv", VENDOR)
    load(h1, catalog, tmp_path / "vendor", country="NL", system="vendor")
    compute(Database(h1), Survivorship(), country="NL")
    # The vendor's values are most recent: Anna's golden record holds some of them.
    again = cycle(as_of=f"cycle:{before.cycle.id}")
    assert again.golden_as_now == 1
    assert any(
        "1 persons are read with their golden values as they are now" in w for w in again.warnings
    )
    assert json.loads(again.cycle.summary)["golden_read_as_now"] == 1
    assert cycle().golden_as_now == 0  # a run on the current inputs reads them as they are
