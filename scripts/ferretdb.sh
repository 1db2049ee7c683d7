#!/usr/bin/env bash
# FerretDB v1.24 (MongoDB wire protocol over SQLite) test harness.
# Test target only, see tools/ferretdb/README.md.
#
#   scripts/ferretdb.sh build        build bin/ferretdb-test (fast when up to date)
#   scripts/ferretdb.sh start DIR    start in background (data in DIR/data), wait for READY,
#                                    write DIR/uri and DIR/pid, print the URI
#   scripts/ferretdb.sh stop DIR     stop the instance started in DIR
#
# Environment:
#   FERRETDB_LISTEN        listen address for start (default 127.0.0.1:0 = free port)
#   FERRETDB_MAX_LIFETIME  self-exit after this duration (default 30m)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$ROOT/bin/ferretdb-test"
SRC="$ROOT/tools/ferretdb"

die() { echo "ferretdb.sh: $*" >&2; exit 1; }

# is_ours PID: PID is alive and runs bin/ferretdb-test (guards against pid reuse).
is_ours() {
	local pid="$1"
	[[ "$pid" =~ ^[0-9]+$ ]] || return 1
	kill -0 "$pid" 2>/dev/null || return 1
	if [[ -r "/proc/$pid/cmdline" ]]; then
		tr '\0' '\n' <"/proc/$pid/cmdline" | head -n1 | grep -q 'ferretdb-test$' || return 1
	fi
	return 0
}

cmd_build() {
	mkdir -p "$ROOT/bin"
	# go build only relinks when sources, deps or toolchain changed.
	(cd "$SRC" && go build -trimpath -o "$BIN" .)
}

cmd_start() {
	local dir="${1:-}"
	[[ -n "$dir" ]] || die "usage: $0 start DIR"
	mkdir -p "$dir"
	dir="$(cd "$dir" && pwd)"

	if [[ -f "$dir/pid" ]] && is_ours "$(cat "$dir/pid")" && [[ -s "$dir/uri" ]]; then
		cat "$dir/uri"
		return 0
	fi
	rm -f "$dir/pid" "$dir/uri"
	: >"$dir/stdout"

	[[ -x "$BIN" ]] || cmd_build

	# setsid: own session, so it is not killed with the caller's process group;
	# -max-lifetime makes sure it never lingers.
	setsid "$BIN" \
		-dir "$dir/data" \
		-listen "${FERRETDB_LISTEN:-127.0.0.1:0}" \
		-max-lifetime "${FERRETDB_MAX_LIFETIME:-30m}" \
		>"$dir/stdout" 2>>"$dir/log" </dev/null &
	local pid=$!
	echo "$pid" >"$dir/pid"

	local uri="" i
	for ((i = 0; i < 600; i++)); do
		uri="$(sed -n 's/^READY //p' "$dir/stdout" 2>/dev/null | head -n1)" || true
		[[ -n "$uri" ]] && break
		if ! kill -0 "$pid" 2>/dev/null; then
			rm -f "$dir/pid"
			die "ferretdb-test exited before READY; log: $dir/log"$'\n'"$(tail -n 20 "$dir/log" 2>/dev/null)"
		fi
		sleep 0.1
	done
	if [[ -z "$uri" ]]; then
		kill -TERM "$pid" 2>/dev/null || true
		rm -f "$dir/pid"
		die "ferretdb-test not READY after 60s; log: $dir/log"
	fi
	echo "$uri" >"$dir/uri"
	echo "$uri"
}

cmd_stop() {
	local dir="${1:-}"
	[[ -n "$dir" ]] || die "usage: $0 stop DIR"
	[[ -f "$dir/pid" ]] || return 0
	local pid i
	pid="$(cat "$dir/pid")"
	if is_ours "$pid"; then
		kill -TERM "$pid" 2>/dev/null || true
		for ((i = 0; i < 100; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			echo "ferretdb.sh: pid $pid did not stop in 10s, sending SIGKILL" >&2
			kill -KILL "$pid" 2>/dev/null || true
		fi
	fi
	rm -f "$dir/pid" "$dir/uri"
}

case "${1:-}" in
build) cmd_build ;;
start) shift; cmd_start "$@" ;;
stop) shift; cmd_stop "$@" ;;
*) die "usage: $0 build | start DIR | stop DIR" ;;
esac
