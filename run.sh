#!/usr/bin/env bash
# The two quick-start commands:
#   ./run.sh lab    bring the local lab up, provision it, and show the mTLS path works
#   ./run.sh test   lint, typecheck and every test (unit, Pulumi mocks, lab against real MySQL)
set -euo pipefail
cd "$(dirname "$0")"

case "${1:-}" in
  lab)
    shift
    bash scripts/bootstrap.sh
    exec npx tsx lab/cli.ts demo "$@"
    ;;
  test)
    shift
    bash scripts/bootstrap.sh
    echo "== lint" >&2
    npx eslint .
    echo "== typecheck" >&2
    npx tsc -p tsconfig.json --noEmit
    echo "== tests" >&2
    mkdir -p .ztmysql
    status=0
    # In band: some lab suites restart or kill mysqld on the shared test host.
    npx jest --ci -i --json --outputFile=.ztmysql/jest-results.json "$@" || status=$?
    node -e '
      const r = require("./.ztmysql/jest-results.json");
      console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests} skipped`);
      if (r.numTotalTests === 0) process.exitCode = 1;
    ' || status=1
    exit "$status"
    ;;
  *)
    echo "usage: ./run.sh lab | ./run.sh test [jest args]" >&2
    exit 2
    ;;
esac
