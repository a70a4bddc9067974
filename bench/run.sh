#!/usr/bin/env bash
# The Satsub benchmark (docs/benchmarks.md). Builds satsub and the bench in Release, then runs it against the local
# PostgreSQL ($SATSUB_TEST_POSTGRES, else the password test.sh sets) with pgbench from the same installation.
#   bench/run.sh --quick          a few thousand rows, ~30 s: what CI runs; checks correctness, prints figures
#   bench/run.sh                  the full run: 1,000,000 users, concurrency 8/16/32/64 (tens of minutes)
#   bench/run.sh --users 200000   any size; other options in bench/Satsub.Bench/Program.cs
set -euo pipefail
cd "$(dirname "$0")/.."
command -v pgbench >/dev/null || { echo "bench: pgbench is missing (apt-get install postgresql-contrib or postgresql-client)" >&2; exit 1; }
if [ "${SATSUB_BENCH_NO_BUILD:-}" != 1 ]; then
  dotnet build src/Satsub -c Release -warnaserror -v quiet -nologo >/dev/null
  dotnet build bench/Satsub.Bench -c Release -warnaserror -v quiet -nologo >/dev/null
fi
exec dotnet bench/Satsub.Bench/bin/Release/net10.0/satsub-bench.dll "$@"
