#!/usr/bin/env bash
# Installs the Debian packages tagline builds and tests against, only those
# missing, so that running it twice costs nothing. Used by the README's first
# command and by .ci/run; never install these by hand.
set -euo pipefail
pkgs=(pcscd libpcsclite-dev libnfc-dev libnfc-bin vsmartcard-vpcd pkg-config tmux postgresql)
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
# pcscd is started by the tests themselves on a private socket; stop a system
# instance that the package may have launched so that it does not hold the
# vpcd ports.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet pcscd 2>/dev/null; then
  systemctl stop pcscd.socket pcscd 2>/dev/null || true
fi
