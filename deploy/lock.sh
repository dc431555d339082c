#!/usr/bin/env bash
# Write the lock files from pyproject.toml: exact versions with their sha256 hashes.
#
#   bash deploy/lock.sh                 # after changing a dependency: keep every other pin
#   bash deploy/lock.sh --upgrade       # move everything to the newest versions allowed
#   bash deploy/lock.sh --upgrade-package aiogram   # just one package (and what it needs)
#
# requirements-dev.lock: runtime + dev dependencies (tests, CI: `pip install -r`);
# requirements.lock: runtime only, the same versions (the Docker image).
# The resolution is universal (valid on any OS and CPU) for Python 3.11 and later.
# uv (a pinned version, in a throw-away virtualenv) does the resolving; pip installs the result.
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION=0.13.9
tool="${TMPDIR:-/tmp}/citybot-lock-uv-$UV_VERSION"
if [ ! -x "$tool/bin/uv" ]; then
  python3 -m venv "$tool"
  "$tool/bin/pip" install -q "uv==$UV_VERSION"
fi

compile() {
  "$tool/bin/uv" pip compile pyproject.toml --quiet --generate-hashes --universal \
    --python-version 3.11 --custom-compile-command "bash deploy/lock.sh" "$@"
}
# The dev lock first; the runtime lock is then constrained to its versions, so the two agree.
compile --extra dev -o requirements-dev.lock "$@"
compile -c requirements-dev.lock -o requirements.lock "$@"
