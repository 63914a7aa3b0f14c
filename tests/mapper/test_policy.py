"""The policy file: defaults, round trip of `policy init`, errors naming key and line."""

from __future__ import annotations

import codecs
import json
from pathlib import Path

import pytest
from pydantic import BaseModel

from grantbridge.cli import main
from grantbridge.commands.policy import DEFAULT_TOML
from grantbridge.errors import PolicyError
from mapper.policy import MODE_RULES, OvergrantMode, Policy, load_policy, parse_policy
from tests.mapper.estate import snapshot


def test_default_file_loads_back_to_the_defaults() -> None:
    assert parse_policy(DEFAULT_TOML) == Policy()


def test_policy_init_writes_the_default_file(tmp_path: Path) -> None:
    target = tmp_path / "grantbridge.toml"
    assert main(["policy", "init", str(target)]) == 0
    assert load_policy(target) == Policy()
    assert main(["policy", "init", str(target)]) == 2  # exists, no --force


def test_policy_schema_is_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["title"] == "Policy"
    assert "overgrants" in schema["properties"]


@pytest.mark.parametrize(
    ("text", "key", "line"),
    [
        ('target = "aurora"\n\n[naming]\nfold = "lower"\n', "naming.fold", 4),
        ('target = "oracle"\n', "target", 1),
        ('[overgrants]\ndefault_mode = "downscope"\n\n[[overgrants.accepted]]\n'
         'principal = "x"\nrule = "GB1"\nreason = "ok"\n', "overgrants.accepted.0.rule", 6),
        ('[hardening]\nrevoke_public_defaults = "maybe"\n', "hardening.revoke_public_defaults", 2),
    ],
)  # fmt: skip
def test_bad_key_or_value_names_key_and_line(text: str, key: str, line: int) -> None:
    with pytest.raises(PolicyError) as error:
        parse_policy(text, "p.toml")
    assert error.value.location.key == key
    assert error.value.location.line == line
    assert key in str(error.value)


def test_toml_syntax_error_has_a_line() -> None:
    with pytest.raises(PolicyError) as error:
        parse_policy('target = "aurora"\nnaming = [\n', "p.toml")
    assert error.value.location.line is not None


def test_policy_is_frozen() -> None:
    with pytest.raises(ValueError, match="frozen"):
        Policy().target = "rds"  # type: ignore[misc]


def test_auth_rules_first_match_wins() -> None:
    policy = parse_policy(
        '[authentication]\nrules = [{match = "svc_*", method = "iam"}, {method = "password"}]\n'
    )
    assert policy.authentication.method("SVC_reporting", "SQL_LOGIN") == "iam"
    assert policy.authentication.method("app", "SQL_LOGIN") == "password"


def test_default_exclusions() -> None:
    policy = Policy()
    assert policy.exclusion("NT SERVICE\\MSSQLSERVER") is not None
    assert policy.exclusion("##MS_PolicyEventProcessingLogin##") is not None
    assert policy.exclusion("app") is None


def test_modes_name_only_rules_that_have_a_mode() -> None:
    text = '[overgrants]\ndefault_mode = "downscope"\nmodes = {GB016 = "faithful", GB043 = "faithful"}\n'
    with pytest.raises(PolicyError) as error:
        parse_policy(text, "p.toml")
    assert error.value.location.key == "overgrants.modes.GB043"
    assert error.value.location.line == 3
    table = parse_policy('[overgrants.modes]\nGB016 = "faithful"\n')
    assert table.overgrants.mode("GB016") == OvergrantMode.FAITHFUL
    assert table.overgrants.mode("GB001") == OvergrantMode.DOWNSCOPE


def test_mode_rules_are_the_rules_the_planner_gives_a_mode() -> None:
    from mapper.translate import overgrants, ownership
    from mapper.translate.fixed import OVERGRANT_ROLES

    planned = {rule for rule, _ in overgrants.PERMISSION_RULES.values()}
    planned |= set(overgrants.SERVER_ROLE_RULES.values()) | {ownership.RULE}
    planned |= {rule for rule in OVERGRANT_ROLES.values() if rule != "GB043"}  # GB043: no mode
    assert planned == MODE_RULES


def test_load_policy_names_the_file_and_line_of_a_byte_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "grantbridge.toml"
    path.write_bytes(b'target = "aurora"\n# caf\xe9\n')
    with pytest.raises(PolicyError, match="not UTF-8: byte 0xe9 at offset 23") as caught:
        load_policy(path)
    assert caught.value.location.file == str(path)
    assert caught.value.location.line == 2


def test_load_policy_drops_the_byte_order_mark_windows_editors_write(tmp_path: Path) -> None:
    """Saved by Notepad or PowerShell 5 as UTF-8, the file starts with a byte-order mark, which
    tomllib called an "Invalid statement" at 1:1; its errors keep their lines."""
    path = tmp_path / "grantbridge.toml"
    path.write_bytes(codecs.BOM_UTF8 + b'target = "rds"\n')
    assert load_policy(path).target == "rds"
    path.write_bytes(codecs.BOM_UTF8 + b'target = "rds"\nbogus = 1\n')
    with pytest.raises(PolicyError, match="unknown key: 'bogus'") as caught:
        load_policy(path)
    assert caught.value.location.line == 2


def test_load_policy_of_a_missing_file_is_a_policy_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read the policy file"):
        load_policy(tmp_path / "missing.toml")


@pytest.mark.parametrize(
    ("key", "template", "says"),
    [
        ("database_role", "{db}_{name}", "{db} is not a placeholder"),
        ("login", "{name}_{database}", "{database} is not a placeholder"),
        ("login", "{name", "expected '}' before end of string"),
        ("login", "name}", "Single '}'"),
        ("login", "{name}{name.upper}", "{name.upper} is not a placeholder"),
        ("login", "{name[0]}", "{name[0]} is not a placeholder"),
        ("login", "{}", "{} is not a placeholder"),
        ("single_database_role", "{name:>20}", "no format or conversion"),
        ("single_database_role", "{name!r}", "no format or conversion"),
        ("single_database_role", "static", "lacks {name}"),
    ],
)  # fmt: skip
def test_bad_naming_templates_name_key_and_line(key: str, template: str, says: str) -> None:
    text = f'target = "aurora"\n\n[naming]\n{key} = "{template}"\n'
    with pytest.raises(PolicyError) as error:
        parse_policy(text, "p.toml")
    assert error.value.location.key == f"naming.{key}"
    assert error.value.location.line == 4
    assert error.value.location.file == "p.toml"
    assert says in str(error.value)


def test_a_bad_template_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy = tmp_path / "grantbridge.toml"
    policy.write_text('[naming]\ndatabase_role = "{db}_{name}"\n')
    snap = tmp_path / "s.json"
    snap.write_text(snapshot().to_json())
    args = ["plan", str(snap), "-o", str(tmp_path / "o"), "--policy", str(policy)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"{policy}:2" in err
    assert "naming.database_role" in err
    assert "Traceback" not in err


def test_documented_templates_load() -> None:
    naming = parse_policy(
        '[naming]\ndatabase_role = "app_{database}_{name}"\n'
        'single_database_role = "{database}_{name}"\nlogin = "{domain}_{{{name}}}"\n'
    ).naming
    assert naming.login == "{domain}_{{{name}}}"


def _bool_fields(model: type[BaseModel], path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every boolean field of the policy, as its path of keys."""
    found = []
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            found += _bool_fields(annotation, (*path, name))
        elif annotation is bool:
            found.append((*path, name))
    return found


def test_booleans_are_strict() -> None:
    fields = _bool_fields(Policy)
    assert ("hardening", "revoke_public_defaults") in fields
    for *sections, key in fields:
        for value in ('"yes"', '"true"', "1", '"on"'):
            text = f"[{'.'.join(sections)}]\n{key} = {value}\n"
            with pytest.raises(PolicyError) as error:
                parse_policy(text, "p.toml")
            assert error.value.location.key == ".".join((*sections, key))
            assert error.value.location.line == 2
        assert parse_policy(f"[{'.'.join(sections)}]\n{key} = false\n") != Policy()
