"""sis-sync: student-information system and event registrations → Salesforce, with privacy built in.

The public extension surface lives in :mod:`connector.api` (what source and transform plugins
may import) and :mod:`connector.testing` (pytest helpers for plugin authors); the guide is
docs/extending.md. Everything else is internal and may change between releases.
"""

__version__ = "0.1.0"
