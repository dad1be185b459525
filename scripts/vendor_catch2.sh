#!/usr/bin/env bash
# Unpacks Debian's catch2 into third_party/catch2 (ignored by git), for machines that have no
# package registry, such as the lent GPU machine: carry that folder there.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f third_party/catch2/usr/lib/cmake/Catch2/Catch2Config.cmake ] && exit 0
work=$(mktemp -d)
(cd "$work" && apt-get download catch2 > /dev/null)
mkdir -p third_party/catch2
dpkg -x "$work"/catch2_*.deb third_party/catch2
rm -rf "$work"
echo "vendored catch2 into third_party/catch2"
