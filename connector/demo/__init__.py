"""The demo data set: a seeded Dutch MBO school's exports for the demo, tests and benchmarks.

``generate(out_dir)`` writes ``data/studenten.csv``, ``data/aanmeldingen_opendag.csv`` and
``data/checkins.jsonl`` and returns a :class:`DatasetSummary`; ``generate_students_csv`` streams
a large ``studenten.csv`` for benchmarks.
"""

from __future__ import annotations

from connector.demo.dataset import (
    CHECKINS_FILE,
    REGISTRATION_COLUMNS,
    REGISTRATIONS_FILE,
    STUDENT_COLUMNS,
    STUDENTS_FILE,
    DatasetSummary,
    MalformedRow,
    generate,
    generate_students_csv,
)

__all__ = [
    "CHECKINS_FILE",
    "REGISTRATIONS_FILE",
    "REGISTRATION_COLUMNS",
    "STUDENTS_FILE",
    "STUDENT_COLUMNS",
    "DatasetSummary",
    "MalformedRow",
    "generate",
    "generate_students_csv",
]
