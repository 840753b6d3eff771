"""Field refinement: reps propose changes to a cycle's frozen result within the
market's policy, managers decide, publishing applies what was accepted.

* :mod:`.snapshot`: freezing what reps refine (each customer's territory when
  feedback opens) and applying accepted requests when the cycle is published;
* :mod:`.policy`: a set of requests checked against the policy and its auto
  rules in one DuckDB query, whatever its size;
* :mod:`.requests`: storing requests, managers' decisions, expiry, history.

Nothing here prints or knows click: the application (``app.refinement``) calls it.
"""
