#!/usr/bin/env bash
# Unpacks the Debian packages the build needs beyond a compiler and LibTorch (catch2 for the tests,
# libxxhash-dev for the codec's checksums) into third_party/<package> (ignored by git), for machines
# that have no package registry, such as the lent GPU machine: carry third_party there.
set -euo pipefail
cd "$(dirname "$0")/.."
vendor() {  # vendor PACKAGE FOLDER FILE: unpacks PACKAGE into third_party/FOLDER unless FILE is there
  local package=$1 folder=$2 marker=$3 work
  [ -f "third_party/$folder/$marker" ] && return 0
  work=$(mktemp -d)
  (cd "$work" && apt-get download "$package" > /dev/null)
  mkdir -p "third_party/$folder"
  dpkg -x "$work/${package}"_*.deb "third_party/$folder"
  rm -rf "$work"
  echo "vendored $package into third_party/$folder"
}
vendor catch2 catch2 usr/lib/cmake/Catch2/Catch2Config.cmake
vendor libxxhash-dev xxhash usr/include/xxhash.h
