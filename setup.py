"""Packaging that pyproject.toml cannot express on its own.

The bundled themes live in the top-level ``themes/`` folder (the source of truth, easy to find
and edit); they are installed as the data package ``tui_trader.themes``, so a wheel carries them
at ``tui_trader/themes/*.toml`` and an editable install maps that package to ``themes/``.
``packages.find`` in pyproject.toml cannot add a package that lives outside ``tui_trader/``,
and listing every package by hand there would drop any subpackage someone forgets to add.
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["tui_trader", "tui_trader.*"]), "tui_trader.themes"],
    package_dir={"tui_trader.themes": "themes"},
    package_data={"tui_trader.themes": ["*.toml"]},
)
