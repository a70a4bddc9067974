#!/usr/bin/env bash
# The Satsub benchmark (docs/benchmarks.md). Builds satsub and the bench (Release), then runs the bench against the
# local PostgreSQL ($SATSUB_TEST_POSTGRES, else the password test.sh sets) with pgbench from the same installation.
#   bench/run.sh --quick          a few thousand rows: what CI runs; checks correctness, prints figures, asserts no target
#   bench/run.sh                  the full run: 1,000,000 users, concurrency 8/16/32/64
#   bench/run.sh --users 200000   any size; the other options are listed at the top of bench/Satsub.Bench/Program.cs
# SATSUB_BENCH_CONFIGURATION=Debug builds in Debug (test.sh does: it reuses most of what the tests built); SATSUB_BENCH_NO_BUILD=1 skips the build.
# SATSUB_BENCH_DB_SUFFIX=x uses the databases satsub_bench_quick_x / satsub_pgbench_quick_x (several runs on one PostgreSQL).
set -euo pipefail
cd "$(dirname "$0")/.."
configuration="${SATSUB_BENCH_CONFIGURATION:-Release}"
command -v pgbench >/dev/null || { echo "bench: pgbench is missing (it comes with PostgreSQL: apt-get install postgresql)" >&2; exit 1; }
if [ "${SATSUB_BENCH_NO_BUILD:-}" != 1 ]; then
  dotnet build src/Satsub -c "$configuration" -warnaserror -v quiet -nologo >/dev/null
  dotnet build bench/Satsub.Bench -c "$configuration" -warnaserror -v quiet -nologo >/dev/null
fi
exec dotnet "bench/Satsub.Bench/bin/$configuration/net10.0/satsub-bench.dll" --satsub "src/Satsub/bin/$configuration/net10.0/satsub" "$@"
