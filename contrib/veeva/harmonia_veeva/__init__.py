"""harmonia-veeva: Veeva CRM connectors for harmonia (contrib).

* the sink ``veeva`` writes a cycle's target list as the load files a Veeva
  admin loads (territory alignment, targets and segments per territory, the
  multichannel cycle plan with its targets and channel goals), with Veeva's
  object and field API names and stable external ids (:mod:`harmonia_veeva.sink`);
* the source ``veeva-accounts`` reads a Veeva account extract (accounts,
  addresses, parent/child affiliations) into customers, identifiers and the
  crosswalk (:mod:`harmonia_veeva.source`).

Like any pack, it is found through the ``harmonia`` entry point and imports
only harmonia's public surface.
"""

from harmonia import hookimpl


@hookimpl
def harmonia_output_sinks():
    """The ``veeva`` sink."""
    # Imported when asked (DuckDB, Arrow): `harmonia --help` loads every pack.
    from harmonia_veeva.sink import SINK

    return [SINK]


@hookimpl
def harmonia_data_sources():
    """The ``veeva-accounts`` source."""
    from harmonia_veeva.source import SOURCE

    return [SOURCE]
