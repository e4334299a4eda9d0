#!/usr/bin/env bash
# Installs the Debian packages tagline builds and tests against, only those
# missing, so that running it twice costs nothing. Used by the README's first
# command and by .ci/run; never install these by hand.
set -euo pipefail
pkgs=(pcscd libpcsclite-dev libnfc-dev libnfc-bin vsmartcard-vpcd pkg-config tmux postgresql chromium)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "setup: installing ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# A system pcscd is left alone: on a real station it serves the readers.
# The tests start their own pcscd on a private socket and private vpcd
# ports (internal/pcscdtest), so they never need it stopped.
