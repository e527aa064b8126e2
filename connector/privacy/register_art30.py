"""The items of GDPR art. 30(1) (a)–(g), each present or marked missing, for the register.

:func:`art30_items` reads purposes.yaml (and the purpose rows the register built) and says, per
item, what the register shows or what the school still has to add to purposes.yaml. A blank is
never printed: an item the file does not state reads ``missing: add … to purposes.yaml``.

Art. 30(1): (a) controller and DPO with contact details; (b) purposes; (c) categories of data
subjects and of personal data; (d) categories of recipients; (e) transfers to a third country
with the safeguards; (f) envisaged time limits for erasure; (g) a general description of the
technical and organisational security measures (art. 32(1)).
"""

from __future__ import annotations

from dataclasses import dataclass

from connector.privacy.purposes import Party, PurposeSpec, PurposesSpec

MISSING = "missing: "


def missing(what: str) -> str:
    """The text shown for an item purposes.yaml does not state."""
    return f"{MISSING}add {what} to purposes.yaml"


def is_missing(text: str) -> bool:
    """True for a text holding one made by :func:`missing` (renderers highlight it)."""
    return MISSING in text


@dataclass(frozen=True)
class Art30Item:
    """One item of art. 30(1): its letter, its name and what the register says about it."""

    letter: str
    title: str
    text: str

    @property
    def missing(self) -> bool:
        """True when purposes.yaml does not state this item."""
        return is_missing(self.text)


@dataclass(frozen=True)
class TransferRow:
    """A transfer outside the EEA as purposes.yaml declares it (art. 30(1)(e), 44-49)."""

    recipient: str
    country: str
    mechanism: str


def party_text(party: Party | None, key: str) -> str:
    """``Name — contact``, or the name with the contact marked missing, or all missing."""
    if party is None or not (party.name or party.contact):
        return missing(f"{key}: {{name, contact}}")
    if not party.contact:
        return f"{party.name} — {missing(f'{key}: {{name, contact}} (the contact)')}"
    return f"{party.name} — {party.contact}" if party.name else party.contact


def listed(values: list[str], declared: bool, what: str, purpose: str) -> str:
    """A purpose's list (data subjects, recipients): joined, ``none`` or missing."""
    if values:
        return ", ".join(values)
    if declared:
        return "none (declared empty in purposes.yaml)"
    return missing(f"{what} (purposes.{purpose}.{what})")


def transfer_rows(spec: PurposesSpec) -> tuple[TransferRow, ...]:
    """The declared transfers, in the file's order."""
    return tuple(TransferRow(t.recipient, t.country, t.mechanism) for t in spec.transfers or ())


def transfers_text(spec: PurposesSpec) -> str:
    """Art. 30(1)(e) in one line."""
    if spec.transfers is None:
        return missing("transfers: [{recipient, country, mechanism}]")
    if not spec.transfers:
        return "none: no recipient outside the EEA (declared in purposes.yaml)"
    return "; ".join(f"{t.recipient} → {t.country} ({t.mechanism})" for t in spec.transfers)


def measures_text(spec: PurposesSpec) -> str:
    """Art. 30(1)(g) in one line."""
    if not spec.security_measures:
        return missing("security_measures: [...]")
    return "; ".join(spec.security_measures)


def _per_purpose(
    purposes: dict[str, PurposeSpec], gap: dict[str, str], what: str, present: str
) -> str:
    lacking = sorted(name for name in purposes if is_missing(gap.get(name, "")))
    if lacking:
        return missing(f"{what} for {', '.join(lacking)}")
    return present


def art30_items(spec: PurposesSpec, texts: dict[str, dict[str, str]]) -> tuple[Art30Item, ...]:
    """Every art. 30(1) item, present or marked missing.

    Args:
        spec: purposes.yaml.
        texts: Per purpose, the register's own words for ``description``, ``data_subjects``,
            ``recipients`` and ``retention`` (missing ones made by :func:`missing`).
    """
    purposes = spec.purposes

    def column(key: str) -> dict[str, str]:
        return {name: t[key] for name, t in texts.items()}

    n = len(purposes)
    return (
        Art30Item("a", "Controller", party_text(spec.controller_party, "controller")),
        Art30Item("a", "Data protection officer (FG)", party_text(spec.dpo_party, "dpo")),
        Art30Item(
            "b",
            "Purposes of the processing",
            _per_purpose(purposes, column("description"), "a description", f"{n} purposes below"),
        ),
        Art30Item(
            "c",
            "Categories of data subjects and of personal data",
            _per_purpose(
                purposes,
                column("data_subjects"),
                "data_subjects",
                "per purpose below; the personal data as the Salesforce fields each mapping sends",
            ),
        ),
        Art30Item(
            "d",
            "Categories of recipients",
            _per_purpose(purposes, column("recipients"), "recipients", "per purpose below"),
        ),
        Art30Item("e", "Transfers to third countries and safeguards", transfers_text(spec)),
        Art30Item(
            "f",
            "Time limits for erasure",
            _per_purpose(purposes, column("retention"), "retention", "per purpose below"),
        ),
        Art30Item("g", "Technical and organisational security measures", measures_text(spec)),
    )
