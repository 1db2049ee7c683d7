#!/usr/bin/env bash
# make bench: every performance figure beside a baseline measured in the
# same run, on this machine. Targets are printed, never asserted (machines
# are shared and noisy). Everything binds 127.0.0.1 and stops by itself.
# Takes about 25 minutes on 2 cores (the million-parent feed runs, each
# row three times, and the staff runs), plus about 5 minutes for the
# national-scale push dry run (LIAISON_BENCH_NATIONAL=100000 makes it
# short).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== rules engine: Decide (target ≤ 5 µs/op with 20 rules; baseline: 1 rule)"
go test -run '^$' -bench 'Decide' -benchmem -count 1 ./conventions/ | grep -E '^Benchmark'

echo
echo "== embedded store: parent upsert in 10,000-parent batches"
go test -run '^$' -bench 'UpsertParents' -benchtime 3x ./internal/store/sqlite/ | grep -E '^Benchmark'

echo
echo "== embedded store: a parent's first feed read of the day (FeedParent) among 1,000,000 parents, plain and with every"
echo "   child's enrolments (issues 16, 17), from the feed image; baselines on the same store: the database's statement"
echo "   (_statement) and the statement before it (_v1); then the feed image built from the database (at start-up, after a"
echo "   purge) and its memory per parent"
feedfix=$(mktemp -d)
trap 'rm -rf "$feedfix"' EXIT
LIAISON_BENCH_FEED_DIR=$feedfix go test -run '^$' -bench 'FeedParentCold' -benchtime 20000x -benchmem -timeout 30m ./internal/store/sqlite/ | grep -E '^Benchmark'
LIAISON_BENCH_FEED_DIR=$feedfix go test -run '^$' -bench 'FeedImageBuild' -benchtime 2x -timeout 30m ./internal/store/sqlite/ | grep -E '^Benchmark'
rm -rf "$feedfix"

echo
# The feed's load comes from wrk (Debian's package) when it is installed:
# a C load generator leaves more of the two cores to the server than a Go
# one. Installed here when possible; liaison-bench falls back to its own.
if ! command -v wrk >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
	apt-get install -y -qq wrk >/dev/null 2>&1 || (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq wrk >/dev/null 2>&1) || true
fi

echo "== API on the embedded store: directory sync, publication at 200 req/s, parents' feed (each beside its baseline)"
# Each part in a process of its own: the feed's server does not inherit
# the heap and garbage of the 100,000-parent sync run. The feed is the
# 8:00 peak of a département (issue 16): 1,000,000 parents synced through
# the API, 1,000 schools, 50,000 of them polling; its server runs in a
# process of its own, whose peak RSS is printed.
go build -o "${TMPDIR:-/tmp}/liaison-bench" ./cmd/liaison-bench
"${TMPDIR:-/tmp}/liaison-bench" -only api
"${TMPDIR:-/tmp}/liaison-bench" -only feed -feed-parents 1000000 -feed-schools 1000 -feed-hot 50000
echo "-- the same, the ENT's directory giving every child's enrolments (issue 17: no regression beyond noise)"
"${TMPDIR:-/tmp}/liaison-bench" -only feed -feed-parents 1000000 -feed-schools 1000 -feed-hot 50000 -feed-enrolments

echo
echo "== Web Push: one notice to 100,000 subscriptions, stand-in answering after 0, 50 and 150 ms"
echo "   (targets: at 50 ms ≥ 80% of the 0 ms pushes/s, at 150 ms ≥ 60%; ≥ 10× the webpush-go loop (32 workers) at 50 ms)"
go test -run '^$' -bench '^BenchmarkFanout$' -benchtime=1x -count=1 -timeout 20m ./internal/delivery/ | grep -vE '^(goos|goarch|pkg|cpu|PASS|ok)'
echo "-- the same with net/http's HTTP/2 transport instead of webpush/h2.go (LIAISON_BENCH_CLIENT=nethttp)"
LIAISON_BENCH_CLIENT=nethttp go test -run '^$' -bench '^BenchmarkFanout$' -benchtime=1x -count=1 -timeout 20m ./internal/delivery/ | grep -E 'stand-in at|webpush-go loop'
go test -run '^$' -bench 'BenchmarkSend|BenchmarkEncryptOnly|BenchmarkECDHFloor' -count=1 ./webpush/ | grep -E '^Benchmark'
echo "-- national-scale dry run: one urgent notice to 1,000,000 subscriptions (LIAISON_BENCH_NATIONAL) on the embedded store,"
echo "   stand-in at 50 ms on three origins (targets: first push ≤ 1 s after publish, all accepted ≤ 3 min, peak RSS ≤ 400 MB)"
go test -run '^$' -bench '^BenchmarkNational$' -benchtime=1x -count=1 -timeout 60m ./internal/delivery/ | grep -E 'national_test.go|setup'
# Two worker processes need a store they share: MongoDB (the embedded
# store is single-process). FerretDB (make ferretdb) stands in for it here:
# it scans whole collections for any filter but _id and its claims are not
# atomic, so two processes there run under the worker lease (one sends,
# the other stands by) and the figures are FerretDB's, not MongoDB's
# (docs/PUSH.md, "Measured"). LIAISON_TEST_MONGODB_URI runs it on a real
# MongoDB instead, where both processes claim batches.
if [ -n "${LIAISON_TEST_MONGODB_URI:-}" ] || [ -x bin/ferretdb-test ]; then
	where="FerretDB (bin/ferretdb-test)"
	[ -z "${LIAISON_TEST_MONGODB_URI:-}" ] || where="MongoDB (LIAISON_TEST_MONGODB_URI)"
	echo "-- two worker processes sharing one store: one urgent notice to ${LIAISON_BENCH_TWO_WORKERS:-5000} subscriptions (LIAISON_BENCH_TWO_WORKERS)"
	echo "   on $where, delivered by one then two worker processes, stand-in at 50 ms on three origins (duplicates must be 0)"
	LIAISON_FERRETDB_BIN="$PWD/bin/ferretdb-test" LIAISON_BENCH_TWO_WORKERS="${LIAISON_BENCH_TWO_WORKERS:-5000}" \
		go test -run '^$' -bench '^BenchmarkFanoutTwoWorkers$' -benchtime=1x -count=1 -timeout 60m ./internal/delivery/ | grep -E 'twoworkers_test.go'
else
	echo "-- two worker processes sharing one store: not run, bin/ferretdb-test is missing (make ferretdb builds it) and LIAISON_TEST_MONGODB_URI is not set"
fi

echo
echo "== back-office: server time per page with the demo data (target < 100 ms)"
go test -run '^$' -bench '^BenchmarkPages$' -benchtime 20x ./admin/ | grep -E '^Benchmark'

echo
echo "== staff side at 1,000,000 parents and 3,000 schools: server time per page and figure (target < 100 ms); the directory's sync timed (sync-s)"
go test -run '^$' -bench '^BenchmarkStaffAtScale$' -benchtime 3x -timeout 30m ./admin/ | grep -E '^Benchmark'
