"""GDPR jobs: the operations that reach into Salesforce and local state for the privacy officer.

The rules they apply are pure and live in :mod:`connector.privacy` (policy, purposes, retention
rule, forbidden identifiers, register); imports run one way, from here to there, never back.

- :mod:`connector.gdpr.erasure`: a person's graph in Salesforce and state, deleted children first
- :mod:`connector.gdpr.erasure_job`: ``sis-sync erase`` (locks, tombstones, outcome)
- :mod:`connector.gdpr.export_job`: ``sis-sync export`` (art. 15 and 20)
- :mod:`connector.gdpr.purge_plan`: what the retention purge deletes, found in local state
- :mod:`connector.gdpr.purge_job`: ``sis-sync purge`` (locks, deletes, audit, outcome)
"""
