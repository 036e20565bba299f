#!/usr/bin/env bash
# Installs moto's server (an independent AWS KMS implementation, PyPI) into .venv-moto at the repo
# root, for the AWS KMS adapter's conformance suite (test/integration/aws-kms-conformance.test.ts).
# Idempotent: does nothing when the pinned version is already installed.
#
#   test/support/setup-moto.sh            # uses python3 from PATH
#   PYTHON=/usr/bin/python3.12 test/support/setup-moto.sh
set -euo pipefail

MOTO_VERSION="5.1.22"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$ROOT/.venv-moto"
PYTHON="${PYTHON:-python3}"

installed_version() {
  "$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("moto"))' 2>/dev/null || true
}

if [[ -x "$VENV/bin/moto_server" && "$(installed_version)" == "$MOTO_VERSION" ]]; then
  echo "moto $MOTO_VERSION already installed in $VENV"
  exit 0
fi

if [[ ! -x "$VENV/bin/python" ]]; then
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
echo "moto $(installed_version) installed in $VENV ($VENV/bin/moto_server)"
