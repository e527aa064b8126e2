"""YAML alias limits: an alias bomb in a mapping, purposes.yaml or sync.yaml is refused fast."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from connector import yamlsafe
from connector.config import load_settings
from connector.errors import ConfigError, MappingError
from connector.mapping.loader import load_project


def bomb(prefix: str = "") -> str:
    """The classic ten-line billion laughs (10⁹ strings once expanded)."""
    lines = [f"{prefix}a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, 10):
        refs = ", ".join([f"*a{i - 1}"] * 10)
        lines.append(f"{prefix}a{i}: &a{i} [{refs}]")
    return "\n".join(lines) + "\n"


def test_compose_refuses_the_bomb_in_well_under_a_second_naming_a_line():
    t0 = time.perf_counter()
    with pytest.raises(yamlsafe.AliasLimitError) as info:
        yamlsafe.compose(bomb())
    assert time.perf_counter() - t0 < 1.0
    assert info.value.problem_mark is not None
    assert 1 <= info.value.problem_mark.line + 1 <= 10
    assert "aliases expand this value to more than 100,000 values" in str(info.value)


def test_a_recursive_alias_is_refused():
    with pytest.raises(yamlsafe.AliasLimitError, match="contains it"):
        yamlsafe.compose("a: &x [1, *x]\n")
    with pytest.raises(yamlsafe.AliasLimitError, match="contains it"):
        yamlsafe.compose("a: &x {k: [*x]}\n")


def test_ordinary_aliases_and_merge_keys_still_load():
    text = "base: &b {x: 1, y: [a, b]}\none: {<<: *b, z: 2}\ntwo: [*b, *b]\n"
    data, node = yamlsafe.compose(text)
    assert data["one"] == {"x": 1, "y": ["a", "b"], "z": 2}
    assert data["two"] == [data["base"], data["base"]]
    assert node is not None
    assert yamlsafe.compose("") == (None, None)
    assert yamlsafe.compose("# only a comment\n", empty={}) == ({}, None)


def test_the_limit_counts_the_expansion_not_the_text():
    # 3 levels of 10 aliases to a 10-item list: ~1,111 values, fine; a lower limit refuses it.
    text = "\n".join(bomb().splitlines()[:3]) + "\n"
    root = yamlsafe.compose(text)[1]
    assert root is not None
    yamlsafe.check_expansion(root, limit=2_000)
    with pytest.raises(yamlsafe.AliasLimitError):
        yamlsafe.check_expansion(root, limit=1_000)


def test_only_safe_tags_and_libyaml_when_available():
    with pytest.raises(yaml.YAMLError):
        yamlsafe.compose("a: !!python/object/apply:os.system ['true']\n")
    assert yamlsafe.BaseLoader is getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def project(tmp_path: Path, mapping: str, purposes: str | None = None) -> Path:
    shipped = Path(__file__).parents[3] / "connector" / "defaults" / "project" / "mappings"
    folder = tmp_path / "mappings"
    folder.mkdir()
    (folder / "purposes.yaml").write_text(
        purposes if purposes is not None else (shipped / "purposes.yaml").read_text()
    )
    (folder / "bomb.yaml").write_text(mapping)
    return folder


def test_a_bomb_in_a_mapping_file_is_a_mapping_problem_with_file_and_line(tmp_path):
    folder = project(tmp_path, "name: bomb\n" + bomb("x_"))
    t0 = time.perf_counter()
    with pytest.raises(MappingError) as info:
        load_project(folder)
    assert time.perf_counter() - t0 < 1.0
    (problem,) = [p for p in info.value.problems if p.file.endswith("bomb.yaml")]
    assert problem.line is not None and 2 <= problem.line <= 11
    assert "aliases expand" in problem.message
    assert info.value.exit_code == 2


def test_a_bomb_in_purposes_yaml_is_refused_too(tmp_path):
    folder = project(tmp_path, "name: ok\n", purposes=bomb())
    with pytest.raises(MappingError) as info:
        load_project(folder)
    assert any(
        p.file.endswith("purposes.yaml") and "aliases expand" in p.message
        for p in info.value.problems
    )


def test_a_bomb_in_sync_yaml_is_a_config_error_with_file_and_line(tmp_path):
    path = tmp_path / "sync.yaml"
    path.write_text("mappings: ./mappings\n" + bomb("x_"))
    t0 = time.perf_counter()
    with pytest.raises(ConfigError, match=r"sync.yaml:\d+: not valid YAML: aliases expand") as info:
        load_settings(path, env={})
    assert time.perf_counter() - t0 < 1.0
    assert info.value.exit_code == 2


def test_a_number_past_pythons_digit_limit_is_a_yaml_error_with_its_line(tmp_path: Path):
    # Found attacking issue 8: int() of 5,000 digits raised ValueError through construction,
    # and `validate` / `run` crashed with exit 70 instead of naming the line.
    with pytest.raises(yaml.MarkedYAMLError, match="more than 4,300 digits") as info:
        yamlsafe.safe_load("a: 1\nb:\n  c: " + "9" * 5000 + "\n")
    assert info.value.problem_mark is not None and info.value.problem_mark.line == 2
    path = tmp_path / "sync.yaml"
    path.write_text("mappings: ./mappings\nlimits:\n  daily_api_share: 1" + "0" * 5000 + "\n")
    with pytest.raises(ConfigError, match=r"sync.yaml:3: not valid YAML: a number too long") as err:
        load_settings(path, env={})
    assert err.value.exit_code == 2


@pytest.mark.parametrize(
    ("tail", "line", "message"),
    [
        # An outsider's F7: no line, and the alias limit blamed for a value with no alias.
        (b"note: a\x01b\n", 2, "not valid YAML: a control character (#x0001)"),
        ("# caf\u00e9\n".encode("latin-1"), 2, "not valid UTF-8: save the file as UTF-8"),
        (b"note: " + b"x" * 10_100_000 + b"\n", 2, "a value of 10,100,000 characters is too long"),
    ],
)
def test_hostile_yaml_names_its_line_and_what_is_wrong(tmp_path, tail, line, message):
    folder = project(tmp_path, "name: odd\n")  # written to bomb.yaml: line 1
    with (folder / "bomb.yaml").open("ab") as fh:
        fh.write(tail)
    with pytest.raises(MappingError) as info:
        load_project(folder)
    (problem,) = [p for p in info.value.problems if p.file.endswith("bomb.yaml")]
    assert (problem.line, message in problem.message) == (line, True), problem
