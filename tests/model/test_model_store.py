"""How a user names a stored model: full tag, name (its latest), or the bare version `stance models` prints."""

from __future__ import annotations

import pytest

from tests.conftest import make_records, write_jsonl


def test_a_bare_version_names_that_version_of_the_classifier(tmp_path, tiny_backbone, bento_home):
    from models.model_store import ModelNotFound, resolve
    from training.config import TrainConfig
    from training.trainer import train_model

    data = write_jsonl(tmp_path / "d.jsonl", make_records(48))
    tags = [train_model(TrainConfig(data=str(data), backbone=tiny_backbone, max_steps=1, batch_size=8, seed=seed,
                                    work_dir=str(tmp_path / f"w{seed}"), seed_quotes="", promote="never")).tag
            for seed in (1, 2)]
    first, second = tags
    name, version = first.split(":")
    assert resolve(version)[0] == first  # not the latest: the version asked for
    assert resolve(first)[0] == first
    assert resolve(name)[0] == second  # a name alone is its latest version
    with pytest.raises(ModelNotFound, match="'nosuchversion' is not in the BentoML model store"):
        resolve("nosuchversion")
