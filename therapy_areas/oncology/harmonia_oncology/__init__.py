"""harmonia-oncology: the oncology therapy area as data.

The pack declares, for the therapy area ``oncology``:

* the HCP profiling questionnaire ``oncology-profile`` (versions 1 and 2,
  in English, French and German) and its profile dimensions ``adoption``,
  ``need`` and ``scientific_engagement``;
* the standardized rule set ``oncology-core`` (segment, needs, tier);
* an engagement strategy per segment, in a ``standard`` and a
  ``digital-first`` variant among which a country chooses.

Everything lives in the TOML files next to this module; the hooks only load
them, so the global team changes the therapy area by editing data.
"""

from importlib.resources import files

from harmonia import EngagementStrategy, Questionnaire, RuleSet, hookimpl, load_definitions

THERAPY_AREA = "oncology"

_DATA = files(__package__)


@hookimpl
def harmonia_questionnaires():
    """Every version of the oncology profiling questionnaire."""
    return load_definitions(Questionnaire, _DATA / "questionnaires")


@hookimpl
def harmonia_segmentation_rules():
    """The standardized oncology rule set ``oncology-core``."""
    return load_definitions(RuleSet, _DATA / "rules")


@hookimpl
def harmonia_engagement_strategies():
    """One strategy per segment and variant (``standard``, ``digital-first``)."""
    return load_definitions(EngagementStrategy, _DATA / "strategies.toml")
