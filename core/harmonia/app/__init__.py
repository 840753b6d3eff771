"""The application layer: harmonia's operations as one click-free object.

:class:`Harmonia` (in :mod:`harmonia.app.core`) holds the database, the
catalog of installed packs and the workspace; its product areas are
attributes, each one module here:

=====================  ===========================================================
``app.loads``          plan and run loads, the quarantine (:mod:`.loads`)
``app.cycles``         run, list, show, diff, explain, SQL (:mod:`.cycles`)
``app.packs``          installed packs, rule sets and their checks (:mod:`.packs`)
``app.questionnaires`` versions, validation, FHIR interchange (:mod:`.questionnaires`)
``app.schema``         the store's revision and upgrades (:mod:`.schema`)
``app.demo(...)``      a synthetic market end to end (:mod:`.demo`)
=====================  ===========================================================

The CLI parses, calls one of these and renders the result; a notebook or a
web page uses the results as they are. Packs reach the running application
through :func:`current_app`. A new product area (refinement, strategy,
master data, reports) is a module here with a class taking the
:class:`Harmonia`, and one cached attribute on it.
"""

from harmonia.app.core import Harmonia, current_app

__all__ = ["Harmonia", "current_app"]
