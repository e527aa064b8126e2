"""Contact-data transforms: phone_e164, mobile_nl, postcode_nl, email.

Rules from the Dutch numbering plan and PostNL (shared reference "Dutch data formats", §3):

- Phone numbers go to Salesforce in E.164 (``+31612345678``), parsed by ``phonenumbers``.
  A Dutch mobile is 06 + 8 digits; ``phonenumbers`` also calls the 12-digit 097 M2M numbers
  mobile, so ``mobile_nl`` checks the E.164 shape ``+316`` + 8 digits as well. 066 (pagers) and
  invalid ranges such as 067 are refused.
- Postcodes are four digits 1000–9999 and two capital letters, written ``1234 AB``; the letter
  pairs SA, SD and SS are never issued (as in ``stdnum.nl.postcode``).
- E-mail addresses are checked for syntax only (no DNS: runs must work offline and must not
  leak addresses to resolvers) and lower-cased whole (see :func:`email`).

Error messages describe the rule, never the value.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType
from pydantic import field_validator

from connector.mapping.transforms import (
    Bound,
    TransformContext,
    TransformError,
    TransformOptions,
    bound_transform,
)


def _clean(value: Any) -> str:
    return (value if value.__class__ is str else str(value)).strip()


def _on_text(convert: Callable[[str], Any]) -> Bound:
    """The bound transform for typed-in text: ``None`` and blank give ``None``, else ``convert``.

    ``convert`` receives the text stripped and never empty.
    """

    def run(value: Any) -> Any:
        if value is None:
            return None
        text = _clean(value)
        return convert(text) if text else None

    return run


class PhoneOptions(TransformOptions):
    """``region``: the country a number without +/00 prefix belongs to (ISO 3166, default NL)."""

    region: str = "NL"

    @field_validator("region")
    @classmethod
    def _known_region(cls, v: str) -> str:
        v = v.upper()
        if v not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError("unknown region; use a two-letter country code such as NL or BE")
        return v


# Fast path for Dutch numbers as people type them (06-12345678, 020 123 4567, +31 6 12345678,
# 0031…): a 9-digit national number that matches phonenumbers' own NL patterns for fixed-line or
# mobile numbers is valid, and its E.164 form is +31 and those digits. Only the regexes are
# borrowed from phonenumbers' metadata, so the rules stay the library's (a test checks the two
# agree); anything else goes through phonenumbers.parse, which costs ≈ 100 µs a number.
_SEPARATORS = str.maketrans("", "", " -.()")
_NL_TYPED = re.compile(r"(?:\+31|0031|0)(\d{9})")


def _nl_pattern(kind: str) -> re.Pattern[str]:
    """phonenumbers' NL national-number pattern of ``kind`` (general_desc, fixed_line, mobile)."""
    meta = phonenumbers.PhoneMetadata.metadata_for_region("NL")
    desc = getattr(meta, kind, None)
    pattern = getattr(desc, "national_number_pattern", None)
    if not isinstance(pattern, str):  # a phonenumbers release without NL metadata: fail loudly
        raise RuntimeError(f"phonenumbers has no NL {kind} pattern")
    return re.compile(pattern)


_NL_GENERAL = _nl_pattern("general_desc")
_NL_FIXED = _nl_pattern("fixed_line")
_NL_MOBILE = _nl_pattern("mobile")


def fast_nl_number(text: str) -> str | None:
    """E.164 for a plainly written Dutch fixed-line or mobile number; None: ask phonenumbers."""
    m = _NL_TYPED.fullmatch(text.translate(_SEPARATORS))
    if m is None:
        return None
    national = m.group(1)
    if _NL_GENERAL.fullmatch(national) and (
        _NL_MOBILE.fullmatch(national) or _NL_FIXED.fullmatch(national)
    ):
        return "+31" + national
    return None


def fast_nl_mobile(text: str) -> str | None:
    """E.164 for a plainly written Dutch 06 mobile number, or None to ask phonenumbers."""
    e164 = fast_nl_number(text)
    return e164 if e164 is not None and e164.startswith("+316") else None


def _parse_phone(text: str, region: str) -> phonenumbers.PhoneNumber:
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException:
        raise TransformError("not a valid phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise TransformError("not a valid phone number")
    return number


@bound_transform("phone_e164", options=PhoneOptions, arg="region")
def phone_e164(options: PhoneOptions, ctx: TransformContext) -> Bound:
    """A valid phone number in E.164 (``06-12345678`` → ``+31612345678``)."""
    region = options.region

    def convert(text: str) -> str:
        if region == "NL":
            fast = fast_nl_number(text)
            if fast is not None:
                return fast
        return phonenumbers.format_number(_parse_phone(text, region), PhoneNumberFormat.E164)

    return _on_text(convert)


_MOBILE_NL = re.compile(r"\+316\d{8}")


@bound_transform("mobile_nl")
def mobile_nl(options: None, ctx: TransformContext) -> Bound:
    """A Dutch 06 mobile number in E.164; anything else (landline, pager, M2M, foreign) fails."""

    def convert(text: str) -> str:
        try:
            number = _parse_phone(text, "NL")
        except TransformError:
            raise TransformError("not a Dutch mobile number (06 and 8 digits)") from None
        e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
        kind = phonenumbers.number_type(number)
        if kind != PhoneNumberType.MOBILE or not _MOBILE_NL.fullmatch(e164):
            raise TransformError("not a Dutch mobile number (06 and 8 digits)")
        return e164

    return _on_text(convert)


_POSTCODE = re.compile(r"(\d)(\d{3})([A-Z]{2})")
_NOT_ISSUED = frozenset({"SA", "SD", "SS"})


def normalise_postcode(text: str) -> str:
    """``"1234ab"``, ``" 1234 AB "``, ``"NL-1234AB"`` → ``"1234 AB"``; TransformError otherwise."""
    compact = re.sub(r"[\s\-]", "", text.upper())
    if compact.startswith("NL"):
        compact = compact[2:]
    m = _POSTCODE.fullmatch(compact)
    if m is None:
        raise TransformError("not a Dutch postcode (four digits and two letters)")
    if m.group(1) == "0":
        raise TransformError("a Dutch postcode does not start with 0")
    if m.group(3) in _NOT_ISSUED:
        raise TransformError("postcode letters SA/SD/SS are not issued")
    return f"{m.group(1)}{m.group(2)} {m.group(3)}"


@bound_transform("postcode_nl")
def postcode_nl(options: None, ctx: TransformContext) -> Bound:
    """A Dutch postcode in its normal form ``1234 AB``."""
    return _on_text(normalise_postcode)


class EmailOptions(TransformOptions):
    """``lowercase``: lower-case the whole address (default); false keeps the local part's case
    and lower-cases only the domain."""

    lowercase: bool = True


# Fast path: a plain ASCII dot-atom address with an LDH domain is valid for email-validator
# too (a test checks the equivalence); everything else, including internationalised addresses,
# goes through the library (≈ 200 µs an address).
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_PLAIN_EMAIL = re.compile(rf"({_ATOM}(?:\.{_ATOM})*)@((?:{_LABEL}\.)+[A-Za-z]{{2,63}})")
_SPECIAL_USE = frozenset({"arpa", "invalid", "local", "localhost", "onion", "test"})


def fast_email(text: str) -> str | None:
    """The address with its domain lower-cased when it is plainly valid, else None."""
    m = _PLAIN_EMAIL.fullmatch(text)
    if m is None or len(m.group(1)) > 64 or len(text) > 254:
        return None
    domain = m.group(2).lower()
    # "--" in a label is reserved for IDNA (xn--): leave those to the library's rules.
    if "--" in domain or domain.rsplit(".", 1)[-1] in _SPECIAL_USE:
        return None
    return f"{m.group(1)}@{domain}"


@bound_transform("email", options=EmailOptions)
def email(options: EmailOptions, ctx: TransformContext) -> Bound:
    """A syntactically valid e-mail address, normalised.

    Only the domain is case-insensitive by the RFC, but every mailbox provider a school meets
    treats the local part so too, and the address is the identity key for registrants not yet in
    the SIS: "Jan@X.nl" and "jan@x.nl" must be one person. So the whole address is lower-cased
    unless ``lowercase: false``. No deliverability (DNS) check.
    """
    lowercase = options.lowercase

    def convert(text: str) -> str:
        normalised = fast_email(text)
        if normalised is None:
            try:
                # The library's message can quote parts of the address: use our own.
                normalised = validate_email(text, check_deliverability=False).normalized
            except EmailNotValidError:
                raise TransformError("not a valid e-mail address") from None
        return normalised.lower() if lowercase else normalised

    return _on_text(convert)
