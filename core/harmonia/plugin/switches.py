"""The environment switches of pack loading (README.md, "Switches").

Their own module because the manager reads them and the catalog and the CLI
name them in messages, and neither may import the manager.
"""

#: Set (to anything but "" or "0") to make a broken pack fatal: ``--strict``.
STRICT_ENV = "HARMONIA_STRICT_PLUGINS"

#: A comma-separated allow-list of pack or distribution names; empty means built-ins only.
ALLOW_ENV = "HARMONIA_LOAD_PLUGINS"
