#!/usr/bin/env bash
# make bench: runs every benchmark several times and writes BENCHMARKS.md.
#   RUNS=5           runs of each quick benchmark (slow ones run 3 times)
#   BENCH_QUICK=1    skip the slow sizes (10,000 guides, 1,000,000 subscribers)
#   KB_TEST_POSTGRES a PostgreSQL server to use; default: a throwaway one
#   BENCH_PARTS="site whitepaper send report search signup"  the parts to run
#   BENCH_RAW=DIR    keep raw results in DIR (an earlier run's, to redo one part)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
RUNS=${RUNS:-5}
SLOW_RUNS=${SLOW_RUNS:-3}
QUICK=${BENCH_QUICK:-}
PARTS=" ${BENCH_PARTS:-site whitepaper send report search signup} "
part() { [[ "$PARTS" == *" $1 "* ]]; }
raw=${BENCH_RAW:-$(mktemp -d /tmp/kb-bench.XXXXXX)}
mkdir -p "$raw"
echo "bench: raw results in $raw"

command -v wrk >/dev/null || { echo "bench: installing wrk"; apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
command -v psql >/dev/null || { echo "bench: installing postgresql"; apt-get update -qq && apt-get install -y -qq postgresql >/dev/null; }
if [ -z "${KB_TEST_POSTGRES:-}" ]; then
	source scripts/throwaway-postgres.sh
	# Durable writes, commits acknowledged before their WAL reaches the disk:
	# the same guarantee SQLite gives in WAL mode with synchronous=NORMAL.
	start_throwaway_postgres -c synchronous_commit=off -c shared_buffers=256MB
fi
go build -o bin/kb ./cmd/kb

bench() { # name package pattern iterations count [args…]
	local name=$1 pkg=$2 pattern=$3 iterations=$4 count=$5
	shift 5
	echo "bench: $name"
	go test -run '^$' -bench "$pattern" -benchtime "$iterations" -count "$count" -timeout 3h "$pkg" "$@" | tee -a "$raw/$name.txt" | grep -E '^Benchmark' || true
}

# Site builds: an even number of iterations, so kb build and Hugo each go
# first as often (the second build of a pair inherits the first's heap).
if part site; then
	rm -f "$raw/site.txt"
	bench site ./internal/site 'BenchmarkBuild/guides=2000$' 4x "$RUNS"
	[ -n "$QUICK" ] || bench site ./internal/site 'BenchmarkBuild/guides=10000$' 2x 2
fi
if part whitepaper; then
	echo "bench: whitepaper"
	go test -run '^$' -bench 'Render' -benchtime 10x -benchmem -count "$RUNS" ./internal/whitepaper | tee "$raw/whitepaper.txt" | grep -E '^Benchmark' || true
fi
if part send; then
	rm -f "$raw/send.txt" "$raw/naive.txt" "$raw/alone.txt" "$raw/send-100ms.txt"
	bench send ./internal/newsletter 'Send100k' 1x "$RUNS"
	bench alone ./internal/newsletter 'MailgunAlone' 1x "$RUNS"
	bench send-100ms ./internal/newsletter 'Send100k|MailgunAlone' 1x "$SLOW_RUNS" -args -newsletter.latency 100ms
	[ -n "$QUICK" ] || bench send ./internal/newsletter 'Send1M' 1x "$SLOW_RUNS" -args -newsletter.1m
	bench naive ./internal/newsletter 'NaiveSend' 1x "$SLOW_RUNS"
	rm -f "$raw/digest.txt"
	bench digest ./internal/newsletter 'Digest100k' 1x "$SLOW_RUNS"
fi
# The dashboard's figures: the overview and the campaign table over
# 100,000 subscribers, a year of events and 1,000,000 ledger rows.
if part report; then
	rm -f "$raw/report.txt"
	bench report ./internal/report 'BenchmarkOverview' 50x "$RUNS"
fi

# The search page of 2,000 guides in Chromium (CPU 4× slower): bytes
# transferred for /szukaj/?q=faktura and the time to the first result.
if part search; then
	rm -f "$raw/search.txt"
	bench search ./internal/e2e/browser 'BenchmarkSearchPage' 5x "$RUNS"
fi

# Signups: kb serve in its own process (SQLite or PostgreSQL, the outbox,
# its mail worker running), wrk in another, a fresh database each run.
port=18089
spent=()
signup_run() { # db conns run
	local db=$1 conns=$2 run=$3 dir dsn="" pid out
	dir=$(mktemp -d /tmp/kb-bench-serve.XXXXXX)
	if [ "$db" = postgres ]; then
		local name="kbbench_$$_${conns}_$run"
		PGOPTIONS="-c client_min_messages=warning" psql -q "$KB_TEST_POSTGRES" -c "DROP DATABASE IF EXISTS $name" -c "CREATE DATABASE $name"
		dsn="${KB_TEST_POSTGRES%%/postgres\?*}/$name?sslmode=disable"
	fi
	KB_DATA="$dir/data" KB_DATABASE_URL="$dsn" KB_SIGNUP_RATE=off KB_CONFIRM_CAP_DOMAIN=off KB_CONFIRM_CAP_TOTAL=off KB_SECRET=bench-secret-0123456789abcdef0123456789 \
		bin/kb serve --addr "127.0.0.1:$port" --out "$dir/public" --private "$dir/private" >"$dir/serve.log" 2>&1 &
	pid=$!
	for _ in $(seq 300); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
	out="$raw/signup-$db-c$conns-$run.txt"
	wrk -t2 -c"$conns" -d10s --latency -s scripts/signup.lua "http://127.0.0.1:$port" >"$out" 2>&1
	local end queued
	end=$(date +%s.%N)
	while :; do
		queued=$(KB_DATA="$dir/data" KB_DATABASE_URL="$dsn" bin/kb subscribers stats --json 2>/dev/null |
			sed -n 's/.*"mail_\(queued\|sending\)": \([0-9]*\).*/\2/p' | paste -sd+ | bc)
		[ "${queued:-1}" = 0 ] && break
		sleep 0.2
	done
	echo "drain_seconds: $(echo "$(date +%s.%N) - $end" | bc)" >>"$out"
	echo "emails: $(ls "$dir/data/outbox" | grep -c '\.eml$')" >>"$out"
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	grep -E 'Requests/sec|99%|drain' "$out" | tr '\n' ' '
	echo
	# Each run starts on a quiet disk: the last run's emails written back
	# (or the next run's fsyncs wait for them) and nothing deleted until the
	# end (on ext4 without a journal, creating files right after deleting
	# tens of thousands walks past every recently freed inode).
	spent+=("$dir")
	sync
	[ "$db" = postgres ] && PGOPTIONS="-c client_min_messages=warning" psql -q "$KB_TEST_POSTGRES" -c "DROP DATABASE IF EXISTS kbbench_$$_${conns}_$run" || true
}
if part signup; then
	rm -f "$raw"/signup-*.txt
	for db in sqlite postgres; do
		for conns in 32 256; do
			for run in $(seq "$RUNS"); do
				echo -n "bench: signup $db c=$conns run $run: "
				signup_run "$db" "$conns" "$run"
			done
		done
	done
	rm -rf "${spent[@]}"
fi

go run ./tools/benchreport -raw "$raw" -quick="$([ -n "$QUICK" ] && echo true || echo false)" >BENCHMARKS.md
echo "bench: wrote BENCHMARKS.md"
