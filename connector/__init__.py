"""sis-sync: student-information system and event registrations → Salesforce, with privacy built in.

The public extension surface lives in :mod:`connector.api`; everything else is internal.
"""

__version__ = "0.1.0"
