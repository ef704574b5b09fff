#!/usr/bin/env bash
# Checks the Dockerfile without a Docker daemon: the final stage installs a Debian package for
# every shared library the learnflow binary needs (readelf -d NEEDED, mapped with dpkg -S), the
# build stage skips tests and benchmarks, and the image runs as a non-root user.
# Usage: dockerfile_test.sh /path/to/learnflow
set -euo pipefail
case "${1:-}" in
  -h|--help|"") sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'; [ -n "${1:-}" ]; exit $? ;;
esac
binary="$1"
root="$(cd "$(dirname "$0")/../.." && pwd)"
dockerfile="$root/Dockerfile"
command -v readelf >/dev/null && command -v dpkg >/dev/null || { echo "skipped: readelf/dpkg missing"; exit 77; }
# The image is always built without sanitizers (scripts/test --sanitize links their runtimes).
if readelf -d "$binary" | grep -Eq 'Shared library: \[lib(asan|tsan|ubsan)'; then
  echo "skipped: a sanitizer build of the binary; the image's build stage uses none"
  exit 77
fi

# The package list of the final stage's apt-get install (after the last FROM).
final="$(awk '/^FROM /{stage=""} {stage=stage $0 "\n"} END{printf "%s", stage}' "$dockerfile")"
packages="$(printf '%s' "$final" | tr '\\' ' ' | tr -s ' \n' '\n' |
  awk '/--no-install-recommends/{on=1; next} on && /^&&$/{on=0} on' | sort -u)"
[ -n "$packages" ] || { echo "no runtime package list found in $dockerfile"; exit 1; }

# Packages the base image (debian:12-slim) already has.
base="libc6 libgcc-s1 libstdc++6 zlib1g"
missing=0
for lib in $(readelf -d "$binary" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p'); do
  path="$(ldconfig -p | awk -v l="$lib" '$1 == l && !found {print $NF; found = 1}')"
  [ -n "$path" ] || { echo "cannot resolve $lib"; missing=1; continue; }
  # Debian 12 merges /lib into /usr/lib; dpkg knows each file under one of the two names.
  pkg="$( (dpkg -S "$path" 2>/dev/null || dpkg -S "$(readlink -f "$path")" 2>/dev/null || true) |
    awk -F: 'NR == 1 {print $1}')"
  [ -n "$pkg" ] || { echo "no Debian package owns $lib ($path)"; missing=1; continue; }
  if ! grep -qx "$pkg" <<<"$packages" && ! grep -qw "$pkg" <<<"$base"; then
    echo "runtime image lacks $pkg (for $lib)"
    missing=1
  fi
done
[ "$missing" -eq 0 ] || exit 1
grep -q -- '-DLEARNFLOW_BUILD_TESTS=OFF' "$dockerfile" || { echo "build stage builds the tests"; exit 1; }
grep -Eq '^USER [1-9][0-9]*' "$dockerfile" || { echo "the image does not run as a non-root uid"; exit 1; }
echo "dockerfile: $(wc -w <<<"$packages") runtime packages cover every library learnflow needs; non-root user"
