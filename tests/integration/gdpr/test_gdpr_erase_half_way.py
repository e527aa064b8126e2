"""An erasure that fails half-way (GDPR art. 17, 12(3)), against the emulator: the first delete
goes through, then the emulator refuses every record (its fault controls). Salesforce is up the
whole time, so only the tombstones written *before* the deletes (erasure_job's early write and
apply_erasure's) can keep the person out of the next run: the down path never runs here."""

from __future__ import annotations

import shutil
from typing import Any

import pytest
from gdprfixtures import EMAIL, NUMBER, emulator, invoke, project_fixture, seed
from syncfixtures import SECRET, SyncProject
from tenacity import wait_none

from connector.gdpr import erasure_job
from connector.hashing import KeyHasher
from connector.salesforce import client as sf_client
from connector.salesforce import writer as sf_writer
from connector.state import open_store

__all__ = ["emulator"]

project = project_fixture(SyncProject)
HASHER = KeyHasher(SECRET)


class HalfWay:
    """The real writer, but after its first delete call the emulator refuses every record."""

    def __init__(self, writer: Any, project: SyncProject) -> None:
        self._writer, self._project, self.deleted = writer, project, []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._writer, name)

    def delete(self, obj: str, ids: Any, **kwargs: Any) -> Any:
        results = self._writer.delete(obj, ids, **kwargs)
        if not self.deleted:
            self.deleted.append(obj)
            self._project.emulator.faults(lock_error_rate=1.0)  # UNABLE_TO_LOCK_ROW from now on
        return results


@pytest.fixture
def half_way(project: SyncProject, monkeypatch: pytest.MonkeyPatch) -> list[HalfWay]:
    """Every writer ``erase`` connects with stops half-way; refused writes are not waited out."""
    monkeypatch.setattr(sf_client, "default_retry_wait", wait_none)
    monkeypatch.setattr(sf_writer, "LOCK_BACKOFF", 0.0)
    made: list[HalfWay] = []
    real = erasure_job.salesforce_writer

    def factory(settings: Any) -> HalfWay:
        made.append(HalfWay(real(settings), project))
        return made[-1]

    monkeypatch.setattr(erasure_job, "salesforce_writer", factory)
    return made


def _contacts(project: SyncProject) -> set[str]:
    return {r["Id"] for r in project.query("SELECT Id FROM Contact")}


def _members(project: SyncProject) -> set[str]:
    return {r["Id"] for r in project.query("SELECT Id FROM CampaignMember")}


def _suppressed(project: SyncProject) -> set[str]:
    wanted = [HASHER.key("student", NUMBER), HASHER.key("email", EMAIL)]
    with open_store(f"sqlite:///{project.folder / 'state' / 'sync.db'}") as store:
        return store.suppressed(wanted)


@pytest.mark.parametrize("lost_state", [False, True], ids=["known", "lost-state"])
def test_art17_tombstones_hold_when_the_erase_fails_half_way(
    project: SyncProject, half_way: list[HalfWay], lost_state: bool
) -> None:
    seed(project, others=False)
    contacts, members = _contacts(project), _members(project)
    assert len(contacts) == 1 and len(members) == 1
    if lost_state:
        shutil.rmtree(project.folder / "state")

    result = invoke(project, "erase", "--email", EMAIL, "--apply")
    project.emulator.faults(lock_error_rate=0)

    assert result.exit_code == 1, result.output  # incomplete: Salesforce refused, not down
    [writer] = half_way
    assert writer.deleted  # the first delete went through ...
    assert _contacts(project) == contacts  # ... and the person record stayed (a child refused)
    # Written before anything in Salesforce: both identifiers are suppressed now.
    assert _suppressed(project) == {HASHER.key("student", NUMBER), HASHER.key("email", EMAIL)}

    # The nightly run before anyone erases again: nothing of the person is written or recreated.
    report = project.run()

    assert report.exit_code() == 0, report.summary()
    assert report.mappings["students"].suppressed == 1
    assert report.mappings["students"].created == report.mappings["students"].updated == 0
    assert report.mappings["registrations"].created == 0
    if writer.deleted == ["CampaignMember"]:
        assert _members(project) == set()  # the deleted registration is not made again
