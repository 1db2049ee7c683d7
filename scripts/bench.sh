#!/usr/bin/env bash
# make bench: every performance figure beside a baseline measured in the
# same run, on this machine. Targets are printed, never asserted (machines
# are shared and noisy). Everything binds 127.0.0.1 and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== rules engine: Decide (target ≤ 5 µs/op with 20 rules; baseline: 1 rule)"
go test -run '^$' -bench 'Decide' -benchmem -count 1 ./conventions/ | grep -E '^Benchmark'

echo
echo "== embedded store: parent upsert in 10,000-parent batches"
go test -run '^$' -bench 'UpsertParents' -benchtime 3x ./internal/store/sqlite/ | grep -E '^Benchmark'

echo
echo "== API on the embedded store (directory sync; publication at 200 req/s beside /healthz)"
go run ./cmd/liaison-bench
