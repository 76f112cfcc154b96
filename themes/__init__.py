"""The bundled themes, one TOML file each; installed as the data package ``tui_trader.themes``.

This folder is the source of truth; setup.py maps it into the package (see ``bundled_theme_dir``
in ``tui_trader/ui/themes.py``). No code lives here.
"""
