#!/bin/sh
# Builds tagline from a source tree shipped in the Debian package
# (/usr/share/tagline/source/tagline-VERSION.tar.xz): every module is in
# vendor/, so no network is needed, and the flags are the package's, so
# that an unmodified tree gives the very binary the package ships. Change
# vendor/github.com/clausecker/nfc/v2 (LGPL-3.0) or anything else, run
#   scripts/relink.sh /tmp/tagline
# and install the result in place of /usr/bin/tagline. scripts/deb.sh
# builds the package's binary with this script too.
set -eu
out=${1:-tagline}
case $out in /*) ;; *) out=$(pwd)/$out ;; esac
cd "$(dirname "$0")/.."
version=$(cat .release-version 2>/dev/null || echo "")
commit=$(cat .release-commit 2>/dev/null || echo "")
[ -d vendor ] || { echo "relink: no vendor/ here; run go mod vendor first" >&2; exit 1; }
CGO_ENABLED=1 GOFLAGS=-mod=vendor GOPROXY=off ${GO:-go} build -trimpath -buildvcs=false \
	-ldflags "-s -w -X github.com/tagline-station/tagline/cmd.version=$version -X github.com/tagline-station/tagline/cmd.commit=$commit" \
	-o "$out" ./cmd/tagline
