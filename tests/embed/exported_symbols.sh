#!/bin/sh
# The shared library must export exactly the functions the public header declares (UCLUSTER_API),
# nothing else: no C++ std:: instances, no internals. usage: exported_symbols.sh LIBRARY HEADER
set -eu
lib=$1
header=$2
exported=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TtWwDdBbRrVvi]$/ {print $3}' | sort -u)
declared=$(grep -o 'UCLUSTER_API [^(]*(' "$header" | sed 's/.*[ *]\(ucluster_[a-z0-9_]*\)($/\1/' | sort -u)
echo "declared: $(echo "$declared" | wc -l) functions; exported: $(echo "$exported" | wc -l) symbols"
if [ "$exported" != "$declared" ]; then
  echo "FAILED: exported symbols differ from the header's functions:"
  diff -u <(echo "$declared") <(echo "$exported") 2>/dev/null || {
    echo "--- declared"; echo "$declared"; echo "--- exported"; echo "$exported"; }
  exit 1
fi
echo "ok: only the API is exported"
