"""Actual activity and sales against a plan: attainment, variance, response, rejects."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest

from harmonia.periods import Period
from harmonia.strategy.actuals import compare

GOALS = pa.table(
    {
        "cycle_id": [1, 1, 1, 1],
        "therapy_area": ["onc", "onc", "onc", "onc"],
        "customer_id": [1, 2, 3, 4],
        "territory": ["T1", "T1", "T2", "T2"],
        "segment": ["champion", "champion", "grow", "grow"],
        "segment_rank": [1, 1, 2, 2],
        "face_to_face": [4, 6, 2, 2],
        "email": [2, 2, 0, 0],
        "contacts": [6, 8, 2, 2],
        "revenue": [100_000, 150_000, 40_000, 40_000],  # cents
    }
)

ACTIVITY = pa.table(
    {
        "customer_id": [1, 1, 1, 2, 3, 99, 2, 1],
        "channel": ["face_to_face"] * 4 + ["email", "face_to_face", "fax", "face_to_face"],
        "date": [
            "2027-01-10",
            "2027-02-10",
            "2027-06-30",
            "2027-03-01",
            "2027-04-01",
            "2027-02-01",
            "2027-02-01",
            "2027-07-01",
        ],
        "contacts": [1, 1, 1, 2, 1, 1, 1, 1],
    }
)

SALES = pa.table(
    {
        "customer_id": [1, 2, None, 3, None, 5],
        "territory": [None, None, "T2", None, "T9", None],
        "period": ["2027-Q1", "2027-H1", "2027-Q2", "2027-13", "2027-Q1", "2027-Q1"],
        "value": [600.0, 1500.0, 250.0, 10.0, 5.0, 1.0],
    }
)


def test_attainment_variance_and_observed_response_with_every_reject_kept():
    connection = duckdb.connect()
    result = compare(connection, GOALS, Period.parse("2027-H1"), ACTIVITY, SALES)
    rejected = {(r["kind"], r["row_number"]): r["reasons"] for r in result.rejected.to_pylist()}
    assert rejected == {
        ("activity", 7): ["customer 99 is not in the plan"],
        ("activity", 8): [
            "channel fax is not one of face_to_face, remote, phone, email, event, web, sample"
        ],
        ("activity", 9): ["date 2027-07-01 is outside the plan's period 2027-H1"],
        ("sales", 5): ["period 2027-13 is not a period (2027, 2027-H1, 2027-Q3, 2027-05)"],
        ("sales", 6): ["territory T9 is not in the plan"],
        ("sales", 7): ["customer 5 is not in the plan"],
    }
    (champion, grow) = result.segments.to_pylist()
    assert (champion["planned_calls"], champion["actual_calls"]) == (10, 5)
    assert champion["call_attainment"] == pytest.approx(50.0)
    assert (champion["planned_revenue"], champion["actual_sales"]) == (2500.0, 2100.0)
    assert champion["variance"] == pytest.approx(-400.0)
    assert grow["actual_contacts"] == 1  # one e-mail to customer 3
    territories = {row["territory"]: row for row in result.territories.to_pylist()}
    # T2's territory-level sales count for the territory, not for a segment
    assert territories["T2"]["actual_sales"] == pytest.approx(250.0)
    assert territories["T1"]["actual_sales"] == pytest.approx(2100.0)
    response = {row["segment"]: row for row in result.response.to_pylist()}
    # champions: 3 calls sold 600, 2 calls sold 1,500: the slope is -900 a call
    assert response["champion"]["observed_revenue_per_call"] == pytest.approx(-900.0)
    assert response["champion"]["planned_revenue_per_call"] == pytest.approx(250.0)


def test_a_customer_in_two_areas_has_each_areas_actuals_against_its_plan():
    """Rows naming their therapy area count for that area's plan only; a row without
    one is refused for a customer planned in several areas (it would count twice)."""
    goals = pa.table(
        {
            "cycle_id": [1, 2],
            "therapy_area": ["onc", "dia"],
            "customer_id": [7, 7],
            "territory": ["T1", "T1"],
            "segment": ["champion", "grow"],
            "segment_rank": [1, 2],
            "face_to_face": [4, 2],
            "contacts": [4, 2],
            "revenue": [100_000, 40_000],
        }
    )
    activity = pa.table(
        {
            "customer_id": [7, 7, 7, 7],
            "therapy_area": ["onc", "dia", None, "resp"],
            "channel": ["face_to_face"] * 4,
            "date": ["2027-01-10", "2027-02-10", "2027-03-10", "2027-03-11"],
            "contacts": [3, 1, 10, 5],
        }
    )
    sales = pa.table(
        {
            "customer_id": [7, 7],
            "therapy_area": ["onc", "dia"],
            "territory": [None, None],
            "period": ["2027-Q1", "2027-Q1"],
            "value": [900.0, 50.0],
        }
    )
    result = compare(duckdb.connect(), goals, Period.parse("2027-H1"), activity, sales)
    # a row without an area would count for both plans: kept aside, with why
    assert {(r["row_number"], r["reasons"][0]) for r in result.rejected.to_pylist()} == {
        (4, "customer 7 is planned in dia and onc: give the row its therapy_area (it would "
         "count for both)"),
        (5, "customer 7 is not planned in resp"),
    }  # fmt: skip
    rows = {row["therapy_area"]: row for row in result.segments.to_pylist()}
    assert (rows["onc"]["actual_calls"], rows["dia"]["actual_calls"]) == (3, 1)
    assert (rows["onc"]["actual_sales"], rows["dia"]["actual_sales"]) == (900.0, 50.0)
