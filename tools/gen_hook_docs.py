"""Generate docs/hooks.md from core/harmonia/plugin/hookspecs.py and the hook-kind table.

The hook specifications' docstrings are the reference; this script only
turns them into Markdown. ``tests/test_hooks_docs.py`` fails when the page
is stale, so after changing a hook run::

    python tools/gen_hook_docs.py
"""

from __future__ import annotations

import inspect
import re
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "hooks.md"


def hook_functions() -> list:
    """The ``harmonia_*`` hook specifications, in the order of the module."""
    from harmonia.plugin import hookspecs

    functions = [
        function
        for name, function in vars(hookspecs).items()
        if name.startswith("harmonia_") and inspect.isfunction(function)
    ]
    return sorted(functions, key=lambda function: function.__code__.co_firstlineno)


def markdown(text: str) -> str:
    """A reStructuredText-flavoured docstring as Markdown.

    Handles what the hook docstrings use: ``literal``, :role:`~dotted.Name`,
    and ``::`` introducing an indented code block.
    """
    text = re.sub(r":\w+:`~[\w.]*?\.?(\w+)`", r"`\1`", text)
    text = re.sub(r":\w+:`([\w.]+)`", r"`\1`", text)
    text = re.sub(r"``(.+?)``", r"`\1`", text)
    lines = text.splitlines()
    output: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        if not line.rstrip().endswith("::"):
            output.append(line)
            index += 1
            continue
        intro = line.rstrip()[:-2].rstrip()
        if intro.endswith("**"):  # "**Example**::" -> "**Example:**"
            intro = intro[:-2] + ":**"
        elif intro:
            intro += ":"
        output.append(intro)
        index += 1
        block: list[str] = []
        while index < len(lines) and (not lines[index].strip() or lines[index].startswith(" ")):
            block.append(lines[index])
            index += 1
        while block and not block[-1].strip():
            block.pop()
        code = textwrap.dedent("\n".join(block)).strip("\n")
        language = "toml" if code.startswith("[") else "python"
        output += ["", f"```{language}", *code.splitlines(), "```", ""]
    return "\n".join(output).strip() + "\n"


def kinds_table() -> list[str]:
    """The table of hook kinds (harmonia.plugin.kinds.HOOK_KINDS) as Markdown."""
    from harmonia.plugin.kinds import HOOK_KINDS

    rows = [
        "| hook | returns | `plugins list` shows | checked against |",
        "|---|---|---|---|",
    ]
    for kind in HOOK_KINDS:
        needs = ", ".join(kind.needs) or "-"
        rows.append(
            f"| [`{kind.hook}`](#{kind.hook}) | `{kind.record.__name__}` | {kind.label} | {needs} |"
        )
    return rows


def render() -> str:
    """The whole page."""
    from harmonia.plugin import hookspecs

    functions = hook_functions()
    parts = [
        "# Hook reference",
        "",
        "<!-- Generated from core/harmonia/plugin/hookspecs.py by tools/gen_hook_docs.py; "
        "do not edit by hand. -->",
        "",
        markdown(inspect.getdoc(hookspecs) or ""),
        "## Hooks",
        "",
        "Every record-returning hook, from the one table the plugin manager, the catalog",
        "and `harmonia plugins list` read (`harmonia.plugin.kinds.HOOK_KINDS`):",
        "",
        *kinds_table(),
        "",
        "Deprecated: "
        + ", ".join(
            f"[`{function.__name__}`](#{function.__name__})"
            for function in functions
            if function.__name__ not in _kind_hooks()
        )
        + ".",
        "",
    ]
    for function in functions:
        signature = str(inspect.signature(function)).replace("'", "")
        parts += [
            f"## {function.__name__}",
            "",
            "```python",
            f"def {function.__name__}{signature}",
            "```",
            "",
            markdown(inspect.getdoc(function) or ""),
        ]
    return "\n".join(parts).rstrip() + "\n"


def _kind_hooks() -> set[str]:
    from harmonia.plugin.kinds import HOOK_KINDS

    return {kind.hook for kind in HOOK_KINDS}


def main() -> int:
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
