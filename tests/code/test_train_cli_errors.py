"""``stance train`` with a bad option: one line naming the option and the value, exit 2, nothing trained."""

from __future__ import annotations

import json

import pytest

from service.cli import EXIT_USER_ERROR, main


@pytest.mark.parametrize(
    "extra, expected",
    [
        (["--promote", "false"], "--promote must be auto, force or never, got 'false'"),
        (["--epochs", "0"], "--epochs must be > 0, got 0.0"),
        (["--learning_rate", "3"], "--learning_rate must be in (0, 1), got 3.0"),
        (["--bf16", "maybe"], "--bf16 must be auto, true or false, got 'maybe'"),
        (["--negative_weight", "-1"], "--negatives_per_record and --negative_weight must be >= 0, got 1 / -1.0"),
        (["--sentiment_loss_weight", "0"], "--sentiment_loss_weight must be in (0, 10], got 0.0"),
    ],
)
def test_out_of_range_option_is_one_line_and_exit_2(tmp_path, capsys, extra, expected):
    rc = main(["train", "--data", str(tmp_path / "absent.jsonl"), "--work_dir", str(tmp_path / "run"), *extra])
    err = capsys.readouterr().err
    assert rc == EXIT_USER_ERROR
    assert err.strip().splitlines() == [f"stance train: error: {expected}"]
    assert not (tmp_path / "run").exists()


def test_config_file_problems_name_the_file(tmp_path, capsys):
    not_json = tmp_path / "broken.json"
    not_json.write_text("{epochs: 2")
    unknown = tmp_path / "unknown.json"
    unknown.write_text(json.dumps({"data": "x", "epochz": 2}))
    listed = tmp_path / "list.json"
    listed.write_text("[1, 2]")
    typed = tmp_path / "typed.json"
    typed.write_text(json.dumps({"data": "x", "epochs": "two"}))

    for path, fragment in ((not_json, "is not a readable JSON file"), (unknown, "has unknown options ['epochz']"),
                           (listed, "must hold a JSON object, got list"),
                           (typed, "epochs must be float, got 'two'"), (tmp_path / "absent.json", "is not a readable")):
        rc = main(["train", "--config", str(path)])
        err = capsys.readouterr().err.strip()
        assert rc == EXIT_USER_ERROR, path
        assert err.startswith(f"stance train: error: --config {str(path)!r}") and fragment in err, err
        assert "Traceback" not in err


def test_missing_data_is_a_user_error(capsys):
    assert main(["train", "--epochs", "1"]) == EXIT_USER_ERROR
    assert capsys.readouterr().err.strip() == "stance train: error: --data is required (or a --config file that sets it)"
