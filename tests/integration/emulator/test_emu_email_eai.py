"""The Email field type as Salesforce documents it: RFC characters in the local part, and with
Email Address Internationalization (EAI) non-ASCII ones too (help article 000384328)."""

from __future__ import annotations

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest

from connector.emulator.testing import running_emulator


@pytest.fixture(scope="module")
def sf():
    with running_emulator() as e:
        yield e.client()


@pytest.mark.parametrize(
    "email", ["zoë@example.nl", "jürgen.müller@bücher.de", "o'brien+news@school.example"]
)
def test_a_non_ascii_or_rfc_local_part_is_saved_as_sent(sf, email: str) -> None:
    rid = sf.Contact.create({"LastName": "EAI", "Email": email})["id"]
    assert sf.Contact.get(rid)["Email"] == email


@pytest.mark.parametrize("email", ["zo ë@example.nl", "zoë@@example.nl", "zoë@example", "zoë"])
def test_spaces_a_second_at_or_no_domain_stay_invalid(sf, email: str) -> None:
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Contact.create({"LastName": "EAI", "Email": email})
    [error] = exc.value.content
    assert error["errorCode"] == "INVALID_EMAIL_ADDRESS" and error["fields"] == ["Email"]
    assert email not in error["message"]  # the emulator never echoes the address
