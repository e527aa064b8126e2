"""Sources: streaming readers of school data (CSV, OneRoster CSV folders, JSON Lines, HTTP).

Built-in kinds are registered through the ``connector.sources`` entry-point group, the same
path third-party sources use. See :mod:`connector.sources.base` for the contract.
"""

from __future__ import annotations

from connector.sources.base import Source, SourceOptions, open_source, options_model, registry

__all__ = ["Source", "SourceOptions", "open_source", "options_model", "registry"]
