#!/usr/bin/env bash
# System packages the test suite needs: headless Chromium (browser tests), Java 17 + Maven (real Neo4j),
# and the two text packages the editing methods' key statistics are taken from (stylekg/editing/corpora.py).
# Installs what is missing with apt when run as root; otherwise says what to install.
set -euo pipefail
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || missing+=(maven)
[ -f /usr/share/wordnet/data.noun ] || missing+=(wordnet-base)
[ -d /usr/share/games/fortunes ] || missing+=(fortunes)
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing system packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "warning: missing ${missing[*]}; install them (e.g. sudo apt-get install ${missing[*]}) or the related tests skip" >&2
fi
