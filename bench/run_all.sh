#!/usr/bin/env bash
# The six benchmarks of docs/benchmarks.md, one after the other in one run, on SQLite and (where
# the server answers) PostgreSQL. Each script starts the fakes and the real app on loopback and
# prints its figures; this prints them all, with the machine and the date, for the doc.
# Usage: bench/run_all.sh [POSTGRES_SERVER_URL]   (default postgresql://postgres@127.0.0.1:5432/test)
set -uo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
PG="${1:-postgresql://postgres@127.0.0.1:5432/test}"
pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null || PG=""

echo "# $(date -u '+%Y-%m-%d %H:%M UTC') · $(nproc) cores · $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) · $($PY --version) · $(git rev-parse --short HEAD)"
run() {
  local name="$1"; shift
  for db in sqlite ${PG:+postgres}; do
    echo; echo "## $name ($db)"
    if [ "$db" = sqlite ]; then "$PY" "$@"; else "$PY" "$@" --database-url "$PG"; fi
  done
}
run "(1) ingest → routed → card queued, 100,000 mentions" bench/ingest_throughput.py --mentions 100000
run "(2) mention on X → card in Slack, poll_seconds 5" bench/mention_to_card.py
run "(3) click → ack at 50 and 200 concurrent clicks, beside bare Bolt" bench/click_ack.py
run "(4) approve → tweet on X" bench/approve_latency.py
run "(5) a 10,000-mention storm into one channel" bench/storm.py
echo; echo "## (6) resident memory after 100,000 mentions (sqlite)"
"$PY" bench/memory.py
