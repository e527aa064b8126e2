"""`sis-sync demo --model eda|education-cloud`: the withdrawal step sets the opt-out (a2-F1).

One purposes.yaml serves every model; on Education Cloud's person accounts its Contact opt-out
fields are the Account's Person… fields (compile.person_account_field)."""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console

from connector.demo.run import run_demo


@pytest.mark.parametrize(
    ("model", "line"),
    [
        ("eda", "HasOptedOutOfEmail = true; ContactPointTypeConsent"),
        ("education-cloud", "PersonHasOptedOutOfEmail = true"),
    ],
)
def test_demo_withdrawal_sets_the_opt_out_per_model(tmp_path, model, line):
    out = io.StringIO()
    code = run_demo(
        keep=tmp_path / "demo", students=40, console=Console(file=out, width=200), model=model
    )
    text = out.getvalue()
    assert code == 0, text
    assert "withdraws the news consent" in text
    assert line in text, text
    reports = sorted((tmp_path / "demo" / "state" / "reports").glob("run-*.json"))
    third = json.loads(reports[-1].read_text())
    assert third["mappings"]["students"]["updated"] == 1
