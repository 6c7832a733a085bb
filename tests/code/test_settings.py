"""One settings object: every STANCE_* variable read in one place, checked, and documented in the README."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from models.settings import SETTINGS, SettingsError, markdown_table, read

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_and_overrides():
    s = read({})
    assert s.max_quotes == 256 and s.device == "auto" and s.access_log is False
    s = read({"STANCE_MAX_QUOTES": "10", "STANCE_ACCESS_LOG": "1", "STANCE_PRECISION": "bf16"})
    assert s.max_quotes == 10 and s.access_log is True and s.precision == "bf16"


@pytest.mark.parametrize("env, message", [
    ({"STANCE_MAX_QUOTES": "many"}, "STANCE_MAX_QUOTES must be an integer, got 'many'"),
    ({"STANCE_MAX_QUOTES": "0"}, "STANCE_MAX_QUOTES must be >= 1, got 0"),
    ({"STANCE_PRECISION": "int8"}, "STANCE_PRECISION must be one of ['fp32', 'bf16'], got 'int8'"),
    ({"STANCE_ACCESS_LOG": "maybe"}, "STANCE_ACCESS_LOG must be 1 or 0, got 'maybe'"),
])
def test_a_bad_value_names_the_variable_and_the_value(env, message):
    with pytest.raises(SettingsError) as err:
        read(env)
    assert str(err.value) == message


def test_readme_documents_every_setting_in_one_table():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert markdown_table() in readme


def test_no_module_reads_stance_variables_itself():
    """Settings are read in models/settings.py only (the environment of tests and subprocesses aside)."""
    offenders = []
    for path in list((ROOT / "models").rglob("*.py")) + list((ROOT / "service").rglob("*.py")) + \
            list((ROOT / "training").rglob("*.py")):
        if path.name == "settings.py":
            continue
        text = path.read_text(encoding="utf-8")
        for name in {s.env for s in SETTINGS.values()} - {"STANCE_MODEL_TAG"}:
            if re.search(rf"environ(?:\.get)?\(?\[?\s*[\"']{name}[\"']", text):
                offenders.append(f"{path.relative_to(ROOT)} reads {name}")
    assert offenders == []
