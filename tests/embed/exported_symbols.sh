#!/bin/sh
# The shared library must export exactly the functions the public header declares (UCLUSTER_API),
# nothing else: no C++ std:: instances, no internals. usage: exported_symbols.sh LIBRARY HEADER
set -eu
lib=$1
header=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
nm -D --defined-only "$lib" | awk '{print $3}' | sort -u > "$tmp/exported"
tr '\n' ' ' < "$header" | grep -o 'UCLUSTER_API [^(;#]*ucluster_[a-z0-9_]*(' | sed 's/.*[ *]\(ucluster_[a-z0-9_]*\)($/\1/' | sort -u \
  > "$tmp/declared"
echo "declared: $(wc -l < "$tmp/declared") functions; exported: $(wc -l < "$tmp/exported") symbols"
if ! diff -u "$tmp/declared" "$tmp/exported"; then
  echo "FAILED: the exported symbols (+) differ from the header's functions (-)"
  exit 1
fi
echo "ok: only the API is exported"
