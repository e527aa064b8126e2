"""The org data models a shipped mapping set can target (``init --model``, ``demo --model``)."""

from __future__ import annotations

from enum import StrEnum


class DataModel(StrEnum):
    """The org's data model a shipped mapping set targets (DESIGN §11)."""

    contacts = "contacts"
    education_cloud = "education-cloud"
    eda = "eda"
