"""The ``hash`` transform: a keyed hash (HMAC-SHA256 under ``SIS_SYNC_SECRET``) of a value.

Use it to send a pseudonym instead of a value, e.g. a stable id that Salesforce can match on but
that reveals nothing without the secret. An unkeyed hash (plain SHA-256) of an e-mail address or
a birth date is reversible by trying candidates; the key makes that useless.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from connector.mapping.transforms import (
    Bound,
    TransformContext,
    TransformOptions,
    bound_transform,
)


class HashOptions(TransformOptions):
    """``namespace``: separates hashes of different kinds of value (default "value"), so the
    same text hashed as an e-mail and as a name gives different results; ``length``: hex
    characters to keep, 8–32."""

    namespace: str = Field(default="value", min_length=1)
    # KeyHasher.key gives 32 hex characters (128 bits), plenty against collisions at school scale.
    length: int = Field(default=32, ge=8, le=32)


@bound_transform("hash", options=HashOptions, arg="namespace")
def keyed_hash(options: HashOptions, ctx: TransformContext) -> Bound:
    """HMAC-SHA256 of the value under SIS_SYNC_SECRET, as hex."""
    if ctx.hasher is None:
        raise ValueError("hash needs SIS_SYNC_SECRET")
    key, namespace, length = ctx.hasher.key, options.namespace, options.length

    def run(value: Any) -> Any:
        if value is None:
            return None
        return key(namespace, value if value.__class__ is str else str(value))[:length]

    return run
