#!/usr/bin/env bash
# Prints the release version of the commit checked out, the one that
# `tagline version` reports and the Debian package carries:
#   - $VERSION when set (a release pipeline names it);
#   - the VERSION file's number when HEAD is tagged v<that number>;
#   - else <number>~git<commit date>.<short commit>, which Debian orders
#     before the release it leads to (0.1.0~git20261205.1a2b3c4d5e6f < 0.1.0).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${VERSION:-}" ]; then
	echo "${VERSION#v}"
	exit 0
fi
base=$(tr -d ' \n' < VERSION)
if git tag --points-at HEAD | grep -qx "v$base"; then
	echo "$base"
	exit 0
fi
date=$(TZ=UTC git log -1 --date=format-local:%Y%m%d%H%M%S --format=%cd HEAD)
echo "$base~git$date.$(git rev-parse --short=12 HEAD)"
