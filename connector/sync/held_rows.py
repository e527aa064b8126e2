"""Rows whose student number another record holds: planned once more when the source is read.

One student number, one record (:meth:`~connector.sync.plan_persons.PersonRules.taken`): a row
whose number another record holds — a live record in state, or a key read earlier in the run —
is not written while that record holds it. A OneRoster delta file lists a re-created student (a
new ``sourcedId``, the same ``identifier``) and the old user's ``tobedeleted`` row in any
order; when the new row comes before the deletion, the old record still holds the number when
the new row is planned, and a delta never carries that row again — the student would never
reach Salesforce. So the engine holds such rows (up to :data:`HOLD_MAX` a run) and plans them
again after the last batch, when every deletion of the file is known; a row whose number is
still held then is rejected with the reason the planner gave (the holder's line, or
:data:`~connector.sync.plan_persons.NUMBER_HELD`). Sources that cannot mark deletions (csv,
jsonl, http) reject it at once: the old record leaves at the next full export instead
(docs/input-rules.md, "One student number, one record").

The run's deletions are kept here too (key → line), so that what a deletion further down the
file means for a number is the same in a plan as in a run. The engine applies a deletion that
comes below a row of its batch once the batch is planned (``MappingRun._batch``), so the file's
order decides whatever the batch size: a row above a deletion meets the record still live, and
a row whose number it holds is held here until the deletion is known.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from connector.sync.plan import Item

# Rows held to the end of one mapping's run: each keeps its mapped record (~2 KB), so a
# delta that re-keys a whole school holds its first 10,000 rows (~20 MB), and the rest are
# rejected at once and written by a later full export.
HOLD_MAX = 10_000


class HeldRows:
    """The held rows of one mapping run, and the records its source marked deleted in it.

    Args:
        deletes: True when the source may mark records deleted (``export_guard.DELETES``);
            otherwise nothing is held.
    """

    def __init__(self, *, deletes: bool):
        self._items: dict[str, Item] | None = {} if deletes else None
        # Key hash → line of its deletion in this run, until a later row holds it again
        # (~120 bytes a key: a delta of 100,000 deletions keeps ~12 MB).
        self._deleted: dict[str, int] = {}

    def hold(self, item: Item) -> bool:
        """Keep ``item`` for :meth:`release`; False when it must be rejected now."""
        if self._items is None or len(self._items) >= HOLD_MAX:
            return False
        key = item.res.key_hash
        self._items.pop(key, None)  # a later row of the record: it is the one to plan
        self._items[key] = item
        return True

    def superseded(self, keys: Iterable[str]) -> None:
        """Later rows of these records were planned: their held rows are out of date."""
        if self._items:
            for key in keys:
                self._items.pop(key, None)

    def release(self) -> list[Item]:
        """The held rows, in the order they were held; nothing is held after this."""
        items = list(self._items.values()) if self._items else []
        self._items = None
        return items

    def delete(self, key: str, line: int) -> None:
        """The source marked ``key`` deleted at ``line``: a held row of it is out of date (a
        record created and deleted in one delta is not written for its earlier row)."""
        self._deleted[key] = line
        self.superseded([key])

    def revived(self, lines: Mapping[str, int]) -> list[str]:
        """The keys of a batch's rows (key → line) that hold their record: all but those the
        source deleted at a later line of this run (the held rows planned again at the end
        come from above the deletions read meanwhile: such a row must not lift them)."""
        out = []
        for key, line in lines.items():
            at = self._deleted.get(key)
            if at is not None and line < at:
                continue
            if at is not None:
                del self._deleted[key]
            out.append(key)
        return out

    def deleted(self) -> list[str]:
        """The keys this run's source marked deleted and no later row listed again."""
        return list(self._deleted)

    def live(self, holders: Mapping[int, tuple[str, ...]]) -> dict[int, tuple[str, ...]]:
        """``holders`` without the records the source marked deleted in this run.

        State may still count one as live (a dry run records no end), so the run's own word
        decides.
        """
        if not self._deleted:
            return dict(holders)
        live = {
            pid: tuple(k for k in keys if k not in self._deleted) for pid, keys in holders.items()
        }
        return {pid: keys for pid, keys in live.items() if keys}

    def claims(self, claimed: Mapping[str, tuple[str, int]]) -> dict[str, tuple[str, int]]:
        """The run's student-number claims (student hash → key hash, line) without those of
        records the source deleted further down: a deleted record holds no number."""
        if not self._deleted:
            return dict(claimed)
        return {
            student: (key, line)
            for student, (key, line) in claimed.items()
            if self._deleted.get(key, 0) < line
        }
