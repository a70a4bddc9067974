#!/usr/bin/env bash
# Runs the whole test suite. Makes sure a local PostgreSQL is running first (starting the installed
# cluster, or installing PostgreSQL with apt-get when it is missing and we are root), because the data
# and settlement tests run against a real PostgreSQL as well as SQLite.
set -euo pipefail
cd "$(dirname "$0")"

log() { printf 'test.sh: %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi; }

if [ -z "${SATSUB_TEST_POSTGRES:-}" ]; then
  if ! command -v pg_lsclusters >/dev/null 2>&1 || [ -z "$(pg_lsclusters -h 2>/dev/null)" ]; then
    if [ "$(id -u)" != 0 ]; then
      log "PostgreSQL is not installed. Install it (apt-get install postgresql) or run this script as root."
      exit 1
    fi
    log "installing PostgreSQL with apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
  # The first cluster: "<version> <name> <port> <status> …"
  read -r pg_version pg_cluster pg_port pg_status _ < <(pg_lsclusters -h | head -n 1)
  if [ "$pg_status" != "online" ]; then
    log "starting PostgreSQL $pg_version/$pg_cluster on port $pg_port"
    as_root pg_ctlcluster --skip-systemctl-redirect "$pg_version" "$pg_cluster" start
  fi
  for _ in $(seq 1 30); do
    pg_isready -q -h 127.0.0.1 -p "$pg_port" && break
    sleep 1
  done
  pg_isready -h 127.0.0.1 -p "$pg_port" >/dev/null || { log "PostgreSQL did not become ready on port $pg_port"; exit 1; }
  # A local-only password for the postgres role, so the tests connect over TCP.
  password="satsub-local-tests"
  as_root su postgres -c "psql -q -p $pg_port -c \"ALTER ROLE postgres PASSWORD '$password'\"" >/dev/null
  export SATSUB_TEST_POSTGRES="Host=127.0.0.1;Port=$pg_port;Username=postgres;Password=$password"
fi

# The browser tests drive Debian's Chromium (Playwright downloads no browser here).
missing=()
[ -x "${SATSUB_CHROMIUM:-/usr/bin/chromium}" ] || missing+=(chromium)
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    log "missing: ${missing[*]}. Install them (apt-get install ${missing[*]}) or run this script as root."
    exit 1
  fi
  log "installing ${missing[*]} with apt-get"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

log "PostgreSQL for the tests: $(printf '%s' "$SATSUB_TEST_POSTGRES" | sed -E 's/Password=[^;]*/Password=***/')"

results="$(mktemp -d)"
trap 'rm -rf "$results"' EXIT
set +e
dotnet test Satsub.slnx -warnaserror --logger "console;verbosity=normal" --logger "trx;LogFilePrefix=satsub" --results-directory "$results" "$@"
status=$?
# The benchmark's quick mode keeps the harness working: it asserts correctness (every invoice settled exactly once,
# the ledger balanced), prints figures and asserts no performance target (docs/benchmarks.md).
if [ "$status" = 0 ] && [ "${SATSUB_SKIP_BENCH:-}" != 1 ]; then
  log "quick benchmark: bench/run.sh --quick"
  SATSUB_BENCH_CONFIGURATION=Debug bench/run.sh --quick || status=$?
fi
set -e
# One plain closing line: N passed, N failed.
python3 - "$results" <<'PY' || true
import sys, glob, xml.etree.ElementTree as ET
passed = failed = skipped = 0
for f in glob.glob(sys.argv[1] + "/*.trx"):
    c = ET.parse(f).getroot().find("{*}ResultSummary/{*}Counters")
    if c is None: continue
    passed += int(c.get("passed", 0)); failed += int(c.get("failed", 0)) + int(c.get("error", 0)); skipped += int(c.get("notExecuted", 0))
print(f"tests: {passed} passed, {failed} failed, {skipped} skipped")
PY
exit $status
