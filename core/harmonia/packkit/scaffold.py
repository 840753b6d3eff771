"""``harmonia pack new``: a pip-installable pack that passes its own tests.

A new pack is data plus one line of Python (:func:`harmonia.data_pack`): a
``pyproject.toml`` whose entry point names it, the definitions in TOML with
comments that say what each choice means, a README and a test module. The
country profile's comments are written from the option catalogue itself, so
they list exactly the choices the core accepts.
"""

from __future__ import annotations

import re
from pathlib import Path
from string import Template

from harmonia.errors import ConfigError, ConflictError

_SLUG = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


def new_country_pack(
    code: str, directory: Path, *, name: str | None = None, language: str = "en"
) -> list[Path]:
    """Write the pack ``harmonia-<code>`` into ``directory``; returns the files written."""
    from harmonia.plugin.catalog import load_option_catalogue

    code = code.upper()
    if not re.fullmatch(r"[A-Z]{2}", code):
        raise ConfigError(
            f"{code!r} is not a country code", fix="give the ISO 3166 alpha-2 code, e.g. PT"
        )
    if not re.fullmatch(r"[a-z]{2,3}(-[A-Za-z0-9]+)?", language):
        raise ConfigError(f"{language!r} is not a language tag", fix="e.g. en, pt or pt-BR")
    slug = code.lower()
    values = {
        "code": code,
        "slug": slug,
        "package": f"harmonia_{slug}",
        "distribution": f"harmonia-{slug}",
        "name": name or code,
        "language": language,
        "options": _catalogue_comments(load_option_catalogue()),
    }
    return _write(directory, COUNTRY_FILES, values)


def new_therapy_area_pack(name: str, directory: Path) -> list[Path]:
    """Write the pack ``harmonia-<name>`` for the therapy area ``name``."""
    if not _SLUG.match(name):
        raise ConfigError(
            f"{name!r} is not a therapy-area name",
            fix="use lower-case letters and digits, words joined by '-', e.g. respiratory",
        )
    package = "harmonia_" + name.replace("-", "_")
    values = {
        "area": name,
        "package": package,
        "distribution": f"harmonia-{name}",
        "title": name.replace("-", " ").capitalize(),
    }
    return _write(directory, THERAPY_AREA_FILES, values)


def _write(directory: Path, templates: dict[str, str], values: dict[str, str]) -> list[Path]:
    directory = Path(directory)
    if directory.exists() and any(directory.iterdir()):
        raise ConflictError(
            f"{directory} exists and is not empty",
            fix="choose another folder with --out, or remove this one",
        )
    written = []
    for relative, text in templates.items():
        path = directory / Template(relative).substitute(values)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(Template(text).substitute(values), encoding="utf-8")
        written.append(path)
    return written


def _catalogue_comments(catalogue) -> str:
    """One comment line per option a country chooses: what it is and what is allowed."""
    lines = []
    for option in catalogue.options:
        if option.choices:
            allowed = " | ".join(_toml(choice) for choice in option.choices)
            allowed = f"one{' or more' if option.multiple else ''} of {allowed}"
        elif option.minimum is not None or option.maximum is not None:
            allowed = f"between {option.minimum:g} and {option.maximum:g}"
        else:
            allowed = "any value"
        lines.append(f"#   {option.name}: {option.description} ({allowed})")
    return "\n".join(lines)


def _toml(value: object) -> str:
    """A choice as it is written in TOML: "text", true, 0.5."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return f'"{value}"' if isinstance(value, str) else str(value)


# --- shared -------------------------------------------------------------------------

_PYPROJECT = """[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "$distribution"
version = "0.1.0"
description = "$description"
readme = "README.md"
requires-python = ">=3.11"
dependencies = ["harmonia"]

[project.optional-dependencies]
test = ["pytest"]

# How harmonia finds the pack once it is installed: the object `pack` in the
# package (see __init__.py).
[project.entry-points.harmonia]
$entry = "$package:pack"

[tool.setuptools.packages.find]
include = ["$package*"]

# The data files are the pack: without these patterns pip would install the
# Python alone. `harmonia pack check` tells you when a file is left out.
[tool.setuptools.package-data]
$package = ["*.toml", "**/*.toml", "**/*.json"]
"""

_INIT = '''"""$distribution: $what, as data (see the TOML files next to this module)."""

from harmonia import data_pack

pack = data_pack(__name__)
'''

# --- country ------------------------------------------------------------------------

COUNTRY_FILES = {
    "pyproject.toml": _PYPROJECT.replace(
        "$description", "$name country pack for harmonia: the market's choices."
    ).replace("$entry", "$slug"),
    "$package/__init__.py": _INIT.replace("$what", "the country profile of $name"),
    "$package/country.toml": """# $name: the market's choices among the global options.
#
# Every choice below must be one the global option catalogue allows; a value
# outside it is refused when the pack loads, with the allowed values. The
# options (harmonia's catalogue, as installed):
#
$options
#
# Check the pack without installing it: harmonia pack check .

code = "$code"
name = "$name"
language = "$language"
description = "$name: data-driven process from external and local data, no field refinement."

# data-driven: segments come from data and rules alone; field-involved: reps
# refine them (then field_refinement = "opt-in" and a refinement_policy).
process_mode = "data-driven"
data_sources = ["external", "local"]
field_refinement = "opt-out"

# National identifier schemes the market's customers carry (installed by this
# or another pack, e.g. in identifiers.toml next to this file).
identifier_schemes = []

# Questionnaire answers older than this are not used.
response_max_age_months = 24

# Carry last cycle's final segment forward when a customer's inputs moved less
# than the threshold (0.1 = 10%).
[pull_through]
enabled = false
threshold = 0.1

# How the market's files are written: what its spreadsheets open and save.
[csv]
delimiter = ","
decimal = "."
encoding = "utf-8"

[parameters]
frequency_scale = 1.0
min_calls = 1

# Per therapy area: which strategy variant the market runs, e.g.
# [therapy_areas]
# oncology = { strategy_variant = "digital-first" }
""",
    "README.md": """# $distribution

The $name country pack for [harmonia](https://github.com/harmonia): the
market's choices among the global options, as data (`$package/country.toml`).

```
pip install -e .            # install it next to harmonia
harmonia plugins list       # shows the pack and the country $code
pytest tests                # its own tests
harmonia pack check .       # checks it without installing
```

To add national identifiers, write `$package/identifiers.toml`:

```toml
[[schemes]]
name = "XYZ"
country = "$code"
pattern = "\\\\d{8}"
checksum = "luhn"
description = "8 digits, the last a Luhn check digit"
```

and name them in `identifier_schemes` in `country.toml`. See docs/packs.md.
""",
    "tests/test_pack.py": '''"""The pack's own tests: it loads, and every choice is one the catalogue allows."""

import $package
from harmonia.testing import pack_problems


def test_pack_has_no_problems():
    assert pack_problems($package.pack, name="$slug") == []


def test_the_country_profile_is_the_markets():
    (profile,) = $package.pack.harmonia_country_profiles()
    assert (profile.code, profile.language) == ("$code", "$language")
''',
}

# --- therapy area -------------------------------------------------------------------

THERAPY_AREA_FILES = {
    "pyproject.toml": _PYPROJECT.replace(
        "$description",
        "$title therapy-area pack for harmonia: questionnaire, rules, strategies.",
    ).replace("$entry", "$area"),
    "$package/__init__.py": _INIT.replace("$what", "the $area therapy area"),
    "$package/questionnaires/$area-profile-v1.toml": """# The $area profiling questionnaire, version 1.
#
# A rep or the customer answers it; each scored option adds its score to the
# profile dimensions below, which the rules read. Add a language by adding it
# to `languages` and a translation to every text (text.de = "...").

id = "$area-profile"
therapy_area = "$area"
version = "1"
languages = ["en"]
description = "Profiles $area prescribers on adoption."

[title]
en = "$title HCP profiling questionnaire"

[[items]]
id = "patients_per_month"
type = "integer"
required = true
min = 0
max = 2000
text.en = "How many patients with this condition do you see in a typical month?"

[[items]]
id = "new_treatments"
type = "single"
required = true
text.en = "When a new treatment is approved, how do you usually proceed?"

[[items.options]]
code = "wait"
score = 0
text.en = "I wait for guidelines and experience"

[[items.options]]
code = "try"
score = 1
text.en = "I try it in a few selected patients"

[[items.options]]
code = "routine"
score = 2
text.en = "I use it routinely in eligible patients"

# Bands run from their min up to the next band's min; they must cover every
# score the items can produce (here 0, 1 and 2).
[[dimensions]]
name = "adoption"
description = "Stage of adoption of new treatments."
items = ["new_treatments"]
method = "mean"
missing = "partial"
bands = [
    { level = "non_user", min = 0 },
    { level = "trialist", min = 1 },
    { level = "adopter", min = 2 },
]
""",
    "$package/rules/$area-core.toml": """# $area-core: the standardized $area segmentation every market runs.
#
# The segment is a value x adoption matrix: the customer's potential decile
# within country x specialty against the questionnaire's adoption stage.
# Segments are listed from highest to lowest priority.

name = "$area-core"
therapy_area = "$area"
version = "1"
description = "$title segmentation: value x adoption matrix and an A/B/C tier."

[[features]]
name = "customer_type"
kind = "attribute"
column = "type"
levels = ["HCP", "HCO"]

[[features]]
name = "potential_decile"
kind = "quantile"
metric = "potential"
bins = 10
peer_group = ["country", "specialty"]
missing = { default = 1 }
description = "Decile (1-10) of the customer's potential in their peer group."

[[features]]
name = "adoption"
kind = "profile"
questionnaire = "$area-profile"
dimension = "adoption"
missing = "unknown"
description = "Adoption stage (unknown when not profiled)."

#              adopter    trialist   non-adopter
#   high       champion   grow       convert
#   medium     grow       convert    maintain
#   low        maintain   maintain   monitor

[segment]
segments = ["champion", "grow", "convert", "maintain", "monitor"]
fallback = "monitor"
description = "Value x adoption segment."

[[segment.rules]]
id = "organisation"
when = "customer_type = 'HCO'"
segment = "monitor"
description = "Organisations are key accounts, not rep targets."

[segment.matrix]
cells = [
    ["champion", "grow", "convert"],
    ["grow", "convert", "maintain"],
    ["maintain", "maintain", "monitor"],
]

[segment.matrix.rows]
feature = "potential_decile"
ranges = [[8, 10], [4, 7], [1, 3]]
labels = ["high", "medium", "low"]

[segment.matrix.columns]
feature = "adoption"
levels = [["adopter"], ["trialist"], ["non_user", "unknown"]]
labels = ["adopter", "trialist", "non-adopter"]

[tier]
segments = ["A", "B", "C"]
fallback = "C"
description = "Call priority from potential."

[[tier.rules]]
id = "high_potential"
when = "customer_type = 'HCP' AND potential_decile >= 8"
segment = "A"

[[tier.rules]]
id = "medium_potential"
when = "customer_type = 'HCP' AND potential_decile >= 5"
segment = "B"

# Every metric the features read, declared: a value outside min..max is
# quarantined at load, and a feature reading an undeclared metric (a typo) is
# a warning when the pack is installed.
[[metrics]]
name = "potential"
min = 0
description = "Patients the customer could treat in a period (a count)."
""",
    "$package/strategies.toml": """# One engagement strategy per segment. Frequencies are contacts per customer
# per year; costs are per contact in the pro forma's currency. A country
# chooses a variant; add a second variant (variant = "digital-first") with
# one strategy per segment to offer one.

[[strategies]]
therapy_area = "$area"
segment = "champion"
name = "Champion: partnership"
messages = ["New evidence first", "Peer exchange"]
channels = [
    { channel = "face_to_face", per_year = 12, cost = 200 },
    { channel = "email", per_year = 12, cost = 5 },
]

[[strategies]]
therapy_area = "$area"
segment = "grow"
name = "Grow: broaden use"
messages = ["Which patients benefit most"]
channels = [
    { channel = "face_to_face", per_year = 8, cost = 200 },
    { channel = "email", per_year = 12, cost = 5 },
]

[[strategies]]
therapy_area = "$area"
segment = "convert"
name = "Convert: first patients"
messages = ["Evidence and guideline position"]
channels = [
    { channel = "face_to_face", per_year = 6, cost = 200 },
    { channel = "email", per_year = 8, cost = 5 },
]

[[strategies]]
therapy_area = "$area"
segment = "maintain"
name = "Maintain: light touch"
channels = [
    { channel = "face_to_face", per_year = 2, cost = 200 },
    { channel = "email", per_year = 6, cost = 5 },
]

[[strategies]]
therapy_area = "$area"
segment = "monitor"
name = "Monitor: not targeted"
target = false
""",
    "README.md": """# $distribution

The $area therapy area for [harmonia](https://github.com/harmonia), as data:

| what | where |
|---|---|
| profiling questionnaire `$area-profile` | `$package/questionnaires/` |
| rule set `$area-core` | `$package/rules/` |
| engagement strategies | `$package/strategies.toml` |

```
pip install -e .            # install it next to harmonia and a country pack
pytest tests                # its own tests, a small cycle included
harmonia pack check .       # checks it without installing
harmonia cycle run -c FR -t $area -p 2027-H1
```

The rules read the metric `potential` (load it for the therapy area
`$area`) and the questionnaire's `adoption` dimension. See docs/packs.md.
""",
    "tests/test_pack.py": '''"""The pack's own tests: it loads, its parts fit together, and a cycle runs."""

from pathlib import Path

import $package
from harmonia import CountryProfile, Harmonia, load_definitions
from harmonia.testing import module_pack, pack_problems


def test_pack_has_no_problems():
    """No rejected file, no unreachable rule, a strategy for every segment."""
    assert pack_problems($package.pack, name="$area") == []


def test_a_cycle_runs_on_a_small_market(
    harmonia_database, register_pack, harmonia_plugins, tmp_path: Path
):
    (tmp_path / "country.toml").write_text(
        'code = "NL"\\nname = "Test"\\nlanguage = "en"\\nprocess_mode = "data-driven"\\n'
        'data_sources = ["local"]\\nfield_refinement = "opt-out"\\n'
    )
    country = load_definitions(CountryProfile, tmp_path / "country.toml")
    register_pack($package.pack, name="$area")
    register_pack(module_pack("market", harmonia_country_profiles=lambda: country))
    customers = ["customer_id,country,type,specialty,territory"]
    customers += [f"C{i},NL,HCP,internal_medicine,T1" for i in range(10)]
    metrics = ["customer_id,therapy_area,metric,period,value"]
    metrics += [f"C{i},$area,potential,2026,{10 * (i + 1)}" for i in range(10)]
    (tmp_path / "customers.csv").write_text("\\n".join(customers) + "\\n")
    (tmp_path / "metrics.csv").write_text("\\n".join(metrics) + "\\n")
    app = Harmonia(harmonia_database, harmonia_plugins.catalog())
    loaded = app.loads.run(app.loads.plan([tmp_path / "customers.csv", tmp_path / "metrics.csv"]))
    assert [result.rows_quarantined for result in loaded] == [0, 0]
    result = app.cycles.run(
        country="NL", therapy_area="$area", period="2027-H1", directory=tmp_path / "out"
    )
    segments = {row["segment"]: row["customers"] for row in result.summary}
    # Nobody is profiled: the top potential deciles are non-adopters to convert.
    assert segments["convert"] == 3 and sum(segments.values()) == 10
''',
}
