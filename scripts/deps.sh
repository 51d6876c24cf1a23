#!/usr/bin/env bash
# Installs every Debian package weir needs to build, run and test; idempotent.
# Usage: scripts/deps.sh [--test]   (--test adds the test-only servers and tools)
set -euo pipefail
pkgs=(build-essential cmake pkg-config git ca-certificates
      libpq-dev libmicrohttpd-dev libgnutls28-dev libjansson-dev libcurl4-openssl-dev zlib1g-dev libssl-dev
      libpcre2-dev libzstd-dev libdeflate-dev postgresql postgresql-contrib
      libyaml-dev libmaxminddb-dev uap-core liburing-dev)
if [[ ${1:-} == --test ]]; then
  pkgs+=(clang libclang-rt-14-dev clang-format python3 python3-yaml curl procps locales
         radosgw ceph-mon ceph-osd wrk nginx-light s3cmd libmaxmind-db-writer-perl
         chromium) # headless, driven by tests/browser (puppeteer-core, never a downloaded browser)
  # The image may carry a newer Node.js than Debian's; only add Debian's when none is there.
  command -v node >/dev/null || pkgs+=(nodejs)
  command -v npm >/dev/null || pkgs+=(npm)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "deps.sh: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian's postgresql package starts a default cluster; weir never uses it.
