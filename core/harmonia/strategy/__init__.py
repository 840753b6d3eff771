"""Portfolio and segment strategy over a completed cycle.

The second step of the customer-strategy process: how much to invest in each
segment and customer, and what it is expected to return.

* :mod:`~harmonia.strategy.universe` reads a cycle's assignments, territories
  and metrics from the store into DuckDB;
* :mod:`~harmonia.strategy.opportunity`: opportunity indices per segment and
  segment x territory;
* :mod:`~harmonia.strategy.curves`: response curves as numbers;
* :mod:`~harmonia.strategy.capacity`: reps per territory and what they can do;
* :mod:`~harmonia.strategy.allocate`: integer contacts by greedy marginal
  allocation within capacity (vectorized, exact for concave curves);
* :mod:`~harmonia.strategy.plan`: call plans within capacity for one or
  several therapy areas sharing one field force;
* :mod:`~harmonia.strategy.proforma`: revenue, cost and profit per segment,
  territory and portfolio, adding up to the cent;
* :mod:`~harmonia.strategy.scenario`: what-if variants compared side by side;
* :mod:`~harmonia.strategy.actuals`: actual activity and sales against plan;
* :mod:`~harmonia.strategy.fit`: calibrating a response curve from history.

Nothing here prints or knows click: results are Arrow tables and records.
"""
