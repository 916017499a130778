#!/usr/bin/env bash
# Compare Tidemark's NBD server (FileExport) with `nbdkit file` on the same backing file:
# nbdcopy write and read of SIZE_MIB, runs interleaved so background load hits both alike.
#   npm run build && bench/nbd-compare.sh [SIZE_MIB=512] [RUNS=5]
set -euo pipefail
SIZE_MIB=${1:-512}
RUNS=${2:-5}
DIR=$(mktemp -d /tmp/tm-nbd-bench-XXXXXX)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
trap 'kill $KIT_PID $TM_PID 2>/dev/null || true; rm -rf "$DIR"' EXIT
head -c "${SIZE_MIB}M" /dev/urandom > "$DIR/src.raw"
truncate -s "${SIZE_MIB}M" "$DIR/disk.raw"
nbdkit -f -U "$DIR/kit.sock" file "$DIR/disk.raw" & KIT_PID=$!
UV_THREADPOOL_SIZE=${UV_THREADPOOL_SIZE:-16} node "$ROOT/dist/bench/nbd-serve.js" "unix:$DIR/tm.sock" "$DIR/disk.raw" >/dev/null 2>&1 & TM_PID=$!
for _ in $(seq 50); do [[ -S "$DIR/kit.sock" && -S "$DIR/tm.sock" ]] && break; sleep 0.1; done
# CPU seconds (user+system, all threads) a process has used so far.
cpu() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat"; }
# Wall seconds of one nbdcopy, then the server's CPU seconds during it.
secs() { local pid=$1 t0 t1 c0 c1; shift; c0=$(cpu "$pid"); t0=$(date +%s.%N); nbdcopy "$@"
  t1=$(date +%s.%N); c1=$(cpu "$pid"); echo "$(echo "$t1 - $t0" | bc) $(echo "$c1 - $c0" | bc)"; }
# One untimed pass each so that both see an allocated backing file and a warm page cache.
nbdcopy "$DIR/src.raw" "nbd+unix:///?socket=$DIR/kit.sock"; nbdcopy "$DIR/src.raw" "nbd+unix:///?socket=$DIR/tm.sock"
for i in $(seq "$RUNS"); do
  for who in kit tm; do
    uri="nbd+unix:///?socket=$DIR/$who.sock"
    pid=$KIT_PID; [[ $who == tm ]] && pid=$TM_PID
    echo "$who write $(secs "$pid" "$DIR/src.raw" "$uri")"
    echo "$who read $(secs "$pid" "$uri" "$DIR/back.raw")"
  done
done | sort -k1,2 -k3n | awk -v mib="$SIZE_MIB" '
  { k = $1 " " $2; n[k]++; v[k, n[k]] = $3; all[k] = all[k] " " $3; c[k] += $4 }
  END { for (k in n) { m = v[k, int((n[k] + 1) / 2)];
    printf "%-10s median %.3f s %6.0f MiB/s, server CPU %.2f s/run  (sorted runs:%s)\n", k, m, mib / m, c[k] / n[k], all[k] } }' | sort
