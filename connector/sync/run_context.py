"""What every mapping of a sync run shares (:class:`RunContext`) and how a run tells its progress.

Made by ``job.py`` once per run, read by the engine (``engine.py``) and the write stage
(``write_stage.py``); a module of its own so that both import it one way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

from connector.hashing import KeyHasher
from connector.mapping.compile import CompiledMapping
from connector.mapping.project import Project
from connector.report import RunReport
from connector.salesforce.consent_objects import ConsentOrg
from connector.salesforce.record_types import RecordTypes
from connector.salesforce.writer import Writer
from connector.state import StateStore
from connector.sync.batch_state import Learnt, PlannedPersons, WithheldParents
from connector.sync.consent_dry_run import PlannedRecords

BULK_CHUNK = 50_000  # records per Bulk API 2.0 job the engine submits (the writer splits by bytes)

WriteKind = Literal["records", "consents"]  # which writes a progress line counts


class Progress(Protocol):
    """Told after each batch of a mapping: the records read so far (never per row)."""

    def __call__(self, mapping: str, read: int, /) -> None: ...


@runtime_checkable
class WriteProgress(Progress, Protocol):
    """A progress that follows the writes too: ``written`` is told after each flush, each
    Bulk job recorded and each step of the consent stage (never per row) how many writes of
    ``stage`` are done (accepted or refused) of those submitted so far."""

    def written(self, mapping: str, stage: WriteKind, done: int, total: int) -> None: ...


@dataclass
class RunContext:
    """What every mapping of a run shares."""

    project: Project
    base_dir: Path  # relative source paths resolve against the folder of sync.yaml
    compiled: dict[str, CompiledMapping]
    store: StateStore
    writer: Writer | None  # None for a dry run
    hasher: KeyHasher
    now: datetime
    report: RunReport
    bulk_threshold: int = 2_000
    bulk_chunk: int = BULK_CHUNK
    progress: Progress | None = None
    # Dry run only: key hashes a parent mapping would create, so children count as creates too.
    planned: dict[str, set[str]] = field(default_factory=dict)
    # Dry run only: persons the plan creates, so later mappings match them as the run will.
    planned_persons: PlannedPersons = field(default_factory=PlannedPersons)
    # Records of parent mappings the policy did not write this run: their children are skipped
    # with that reason, not rejected (batch_state.WithheldParents; made from ``compiled``).
    withheld: WithheldParents = field(init=False)
    # Dry run only: the consent records the plan counted, so later mappings see them as known.
    planned_consents: PlannedRecords = field(default_factory=PlannedRecords)
    project_digest: bytes = b""  # fingerprint.project_digest(project): keys the source hashes
    # False when the run's clock is ahead of the real one (SIS_SYNC_NOW in the future): what it
    # decides for that day must not let later real runs skip rows.
    remember_sources: bool = True
    min_export_ratio: float | None = None  # the job's (sync.yaml); a mapping's own wins
    # Record types by DeveloperName, asked once per run (target.record_type / person_account).
    record_types: RecordTypes | None = None
    # The org's consent model (Individual, DataUsePurpose, ContactPointTypeConsent), asked once
    # per run when a consent needs writing; made by the first person mapping of a real run.
    consent_org: ConsentOrg | None = None
    # What the job's later person mappings withdraw, learnt before any plan (made by job.py:
    # sync/withdrawal_learning.py); read by every batch's state and map stage.
    learnt: Learnt = field(default_factory=Learnt)

    def __post_init__(self) -> None:
        self.withheld = WithheldParents.of(self.compiled)

    @property
    def dry_run(self) -> bool:
        """True for `sis-sync plan`: nothing is written anywhere."""
        return self.writer is None
