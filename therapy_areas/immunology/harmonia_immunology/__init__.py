"""harmonia-immunology: the immunology therapy area as data, segmented by needs.

The pack declares, for the therapy area ``immunology``:

* the HCP profiling questionnaire ``immunology-profile`` as a FHIR R4
  Questionnaire (English, French, German, Japanese) with the dimensions
  ``biologic_experience`` and ``treatment_goal``;
* the standardized rule set ``immunology-core``: the questionnaire decides the
  needs segment (experience x goal), potential only the call priority;
* an engagement strategy per segment, in a ``standard`` and a
  ``digital-first`` variant among which a country chooses.
"""

from importlib.resources import files

from harmonia import EngagementStrategy, Questionnaire, RuleSet, hookimpl, load_definitions

THERAPY_AREA = "immunology"

_DATA = files(__package__)


@hookimpl
def harmonia_questionnaires():
    """The immunology profiling questionnaire (FHIR R4 JSON)."""
    return load_definitions(Questionnaire, _DATA / "questionnaires")


@hookimpl
def harmonia_segmentation_rules():
    """The standardized immunology rule set ``immunology-core``."""
    return load_definitions(RuleSet, _DATA / "rules")


@hookimpl
def harmonia_engagement_strategies():
    """One strategy per segment and variant (``standard``, ``digital-first``)."""
    return load_definitions(EngagementStrategy, _DATA / "strategies.toml")
