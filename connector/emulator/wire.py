"""Salesforce-shaped errors and HTTP responses shared by every route."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

JSON_TYPE = "application/json;charset=UTF-8"
CSV_TYPE = "text/csv"
XML_TYPE = "text/xml;charset=UTF-8"


class EmulatorConfigError(Exception):
    """A start-up option or ``--schema`` file the emulator cannot use.

    The emulator stands alone (it imports nothing from the rest of ``connector``); the
    ``sis-sync emulator`` command turns this into the connector's own ``ConfigError`` (exit 2).
    """


class ApiError(Exception):
    """A request-level error rendered as Salesforce's ``[{"message", "errorCode"}]`` array."""

    def __init__(self, status: int, code: str, message: str, fields: list[str] | None = None):
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message, self.fields = status, code, message, fields

    def body(self) -> list[dict[str, Any]]:
        """The JSON body Salesforce sends for this error."""
        item: dict[str, Any] = {"message": self.message, "errorCode": self.code}
        if self.fields is not None:
            item["fields"] = self.fields
        return [item]


class OAuthError(Exception):
    """An OAuth token endpoint error: ``{"error", "error_description"}`` (not an array)."""

    def __init__(self, error: str, description: str, status: int = 400):
        super().__init__(f"{error}: {description}")
        self.error, self.description, self.status = error, description, status


@dataclass
class Response:
    """What a route hands back to the HTTP layer."""

    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


def json_response(status: int, payload: Any) -> Response:
    """A JSON response with Salesforce's content type."""
    return Response(status, json.dumps(payload).encode(), JSON_TYPE)


def not_found() -> ApiError:
    """The 404 Salesforce sends for an unknown resource, object or route."""
    return ApiError(404, "NOT_FOUND", "The requested resource does not exist")


def record_error(code: str, message: str, fields: list[str] | None = None) -> dict[str, Any]:
    """A per-record error as collections return it (``statusCode``, always with ``fields``)."""
    return {"statusCode": code, "message": message, "fields": list(fields or [])}


class RecordError(Exception):
    """A per-record DML failure; single-record routes turn it into a 400 (or 404) ApiError."""

    def __init__(self, code: str, message: str, fields: list[str] | None = None, status: int = 400):
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.status = code, message, status
        self.fields = list(fields or [])

    def as_result(self) -> dict[str, Any]:
        """The ``errors[]`` element of a SaveResult."""
        return record_error(self.code, self.message, self.fields)

    def as_api_error(self) -> ApiError:
        """The request-level error single-record REST sends for it."""
        return ApiError(self.status, self.code, self.message, self.fields)
