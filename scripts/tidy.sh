#!/usr/bin/env bash
# clang-tidy (config: .clang-tidy) over the library's sources, or the files given.
#   scripts/tidy.sh [BUILD_DIR=build] [FILES...]
set -euo pipefail
cd "$(dirname "$0")/.."
build=build
if [ $# -gt 0 ] && [ -d "$1" ]; then build=$1; shift; fi
[ -f "$build/compile_commands.json" ] ||
  cmake -S . -B "$build" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >/dev/null
if [ $# -eq 0 ]; then mapfile -t files < <(git ls-files 'src/*.cpp'); else files=("$@"); fi
tidy=$(command -v clang-tidy || command -v clang-tidy-14)
status=0
for f in "${files[@]}"; do
  "$tidy" -p "$build" --quiet "$f" 2>/dev/null || status=1
done
exit $status
