"""harmonia-diabetes: the type 2 diabetes therapy area as data.

The pack declares, for the therapy area ``diabetes``:

* the HCP profiling questionnaire ``diabetes-profile`` (English, French,
  German, Japanese) and its dimensions ``intensification`` and ``need``;
* the standardized rule set ``diabetes-core``: a data-driven value x momentum
  matrix (patients on treatment against new prescriptions), needs, tier;
* an engagement strategy per segment, in a ``standard`` and a
  ``digital-first`` variant among which a country chooses.

Everything lives in the TOML files next to this module; the hooks only load
them, so the global team changes the therapy area by editing data.
"""

from importlib.resources import files

from harmonia import EngagementStrategy, Questionnaire, RuleSet, hookimpl, load_definitions

THERAPY_AREA = "diabetes"

_DATA = files(__package__)


@hookimpl
def harmonia_questionnaires():
    """The diabetes profiling questionnaire."""
    return load_definitions(Questionnaire, _DATA / "questionnaires")


@hookimpl
def harmonia_segmentation_rules():
    """The standardized diabetes rule set ``diabetes-core``."""
    return load_definitions(RuleSet, _DATA / "rules")


@hookimpl
def harmonia_engagement_strategies():
    """One strategy per segment and variant (``standard``, ``digital-first``)."""
    return load_definitions(EngagementStrategy, _DATA / "strategies.toml")
