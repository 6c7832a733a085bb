"""What was written twice is written once: one reader, one splitter, one near-duplicate check, one
server harness, one load generator, one error base; and only serving code goes into a Bento."""

from __future__ import annotations

import inspect
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_training_data_and_batch_scoring_share_one_reader():
    from models import table_io
    from service import batch_scoring
    from training import data

    assert "iter_rows" in inspect.getsource(data._raw_rows)
    assert batch_scoring.iter_rows is table_io.iter_rows


def test_one_near_duplicate_rule_for_the_builder_and_the_checks():
    from training import build_corpus, corpus_report, similarity

    assert corpus_report.cross_pairs is similarity.cross_pairs
    assert "from training.similarity import groups" in inspect.getsource(build_corpus.assign_splits)


def test_one_server_harness_and_one_load_generator():
    from benchmarks import bench, load_test, server_harness
    from tests import conftest

    assert issubclass(conftest.Server, server_harness.ServerProcess)
    assert "ServerProcess(" in inspect.getsource(bench.run_http)
    assert load_test.closed_loop.__module__ == "benchmarks.http_load"
    assert "httpx" not in inspect.getsource(load_test)


def test_every_user_error_is_a_stance_error():
    from models.backbones import BackboneError
    from models.errors import StanceError
    from models.label_schema import SchemaError
    from models.model_store import ModelNotFound
    from models.network import ModelLoadError
    from models.settings import SettingsError
    from models.table_io import TableError
    from service.batch_scoring import InputError
    from training.articles import ArticleError
    from training.data import DataError

    for cls in (BackboneError, SchemaError, ModelNotFound, ModelLoadError, SettingsError, TableError, InputError,
                ArticleError, DataError):
        assert issubclass(cls, StanceError), cls
    assert "__name__" not in inspect.getsource(__import__("service.cli", fromlist=["main"]).main)


def test_the_bento_holds_only_what_serves():
    spec = yaml.safe_load((ROOT / "bentofile.yaml").read_text())
    included = spec["include"]
    assert not any(p.startswith(("benchmarks", "training", "tests")) for p in included)
    for tool in ("service/batch_scoring.py", "service/cli.py", "service/bootstrap.py"):
        assert tool not in included
    for path in included:  # and what it includes imports nothing outside itself
        for file in ROOT.glob(path):
            if file.suffix == ".py":
                text = file.read_text()
                assert "from training" not in text and "from benchmarks" not in text, file


def test_dependencies_say_what_the_code_needs():
    text = (ROOT / "pyproject.toml").read_text()
    assert '"transformers>=5.0,<6"' in text  # TrainingArguments(train_sampling_strategy=...) exists from 5 on
    from models.predictor import PRECISIONS

    assert "int8" not in PRECISIONS  # torch.ao.quantization is deprecated: int8 was dropped, not kept half-alive
