#!/usr/bin/env bash
# attach-vs-proxy.sh: how much throughput `muxtop attach -o json` keeps
# compared with a plain io.Copy TCP proxy, on loopback.
#
# It builds muxtop and bench/attachload, starts one smux upstream, and then
# N times, for each load (64-caller RAND, one-stream bulk), runs the load
# through a plain proxy and then through `muxtop attach -o json >
# /dev/null`, each run a fresh proxy process for D seconds:
#
#   upstream  <-  [ attachload proxy | muxtop attach -o json ]  <-  attachload rand|bulk
#
# The front end runs in its own process, as a user runs it, so its JSON
# encoding and writes count. Each run prints its rate; the end prints, per
# load, the median rate of each proxy, the ratio of the medians
# (attach / plain), and the median and quartiles of the N pairs' ratios.
#
# Bulk through three processes on two cores is noisy: the rate of one
# proxy varies by ±20% from run to run with where the scheduler puts the
# client, the proxy and the upstream, so that 5 pairs can land 8% from
# the truth either way. The quartiles show the spread; -n 15 or more
# makes the median worth quoting, and -p plain compares the plain proxy
# with itself, which is what no difference looks like.
#
# Usage: bench/attach-vs-proxy.sh [-n RUNS] [-d SECONDS] [-c CALLERS] [-v VERSION] [-o OUTPUT|-p plain] [-l LOADS] [-w SINK]
#   -n  pairs of runs per load (default 15)
#   -d  seconds per run (default 2)
#   -c  RAND callers (default 64)
#   -v  smux protocol version (default 1)
#   -o  attach's output format: json (default) or plain
#   -p  plain: run the plain proxy in attach's place too (the noise floor)
#   -l  loads to run (default "rand bulk")
#   -w  where attach's output goes: null (default), /dev/null, which
#       like a file takes whole 64 KiB writes; or pipe, through a pipe to
#       cat, which gets writes of at most 4 KiB (PIPE_BUF) as any pipe
#
# Everything listens on 127.0.0.1 ports the programs choose; every process
# started here is stopped by pid on exit, and each also stops by itself
# (the proxies and upstream after a lifetime, attach after --duration).
set -euo pipefail

runs=15 secs=2 callers=64 version=1 output=json same="" loads="rand bulk" sink=null
while getopts "n:d:c:v:o:p:l:w:h" opt; do
	case $opt in
	n) runs=$OPTARG ;;
	d) secs=$OPTARG ;;
	c) callers=$OPTARG ;;
	v) version=$OPTARG ;;
	o) output=$OPTARG ;;
	p) same=$OPTARG ;;
	l) loads=$OPTARG ;;
	w) sink=$OPTARG ;;
	*) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2 ;;
	esac
done

case $output in json | plain) ;; *) echo "-o: json or plain, not $output" >&2; exit 2 ;; esac
case $same in "" | plain) ;; *) echo "-p: only plain, not $same" >&2; exit 2 ;; esac
case $sink in null | pipe) ;; *) echo "-w: null or pipe, not $sink" >&2; exit 2 ;; esac

root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
pids=()
cleanup() {
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$tmp"
}
trap cleanup EXIT

echo "building muxtop and attachload..." >&2
(cd "$root" && go build -o "$tmp/muxtop" . && go build -o "$tmp/attachload" ./bench/attachload)

# lifetime bounds every background process even if this script is killed.
lifetime=$(( (runs * 4 * (secs + 5)) + 60 ))s

# start NAME OUT CMD...: runs CMD in the background with stdout to OUT
# (the word pipe: through a pipe to cat, which throws it away) and stderr
# to $tmp/NAME.err, and records its pid in $last. Each NAME is used once,
# so that no one reads a file of an earlier run.
start() {
	local name=$1 out=$2; shift 2
	: >"$tmp/$name.err"
	if [[ $out == pipe ]]; then
		mkfifo "$tmp/$name.fifo"
		cat "$tmp/$name.fifo" >/dev/null &
		pids+=("$!")
		"$@" >"$tmp/$name.fifo" 2>"$tmp/$name.err" &
	else
		"$@" >"$out" 2>"$tmp/$name.err" &
	fi
	last=$!
	pids+=("$last")
}

# addr FILE PATTERN: waits up to 10 s for PATTERN's address in FILE.
addr() {
	local file=$1 pattern=$2 a
	for _ in $(seq 100); do
		a=$(grep -o "$pattern[0-9.]*:[0-9]*" "$file" 2>/dev/null | head -1 | sed "s/^$pattern//") || true
		if [[ -n $a ]]; then echo "$a"; return; fi
		sleep 0.1
	done
	echo "no address in $file:" >&2; cat "$file" >&2; exit 1
}

# stop PID: stops one process started here and waits for it.
stop() {
	kill "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

start upstream "$tmp/upstream.out" "$tmp/attachload" upstream -version "$version" -lifetime "$lifetime"
up=$(addr "$tmp/upstream.out" "listening ")
echo "upstream $up (smux v$version); $runs pairs of ${secs}s runs per load, RAND with $callers callers; attach -o $output to $sink" >&2
if [[ $same == plain ]]; then
	echo "-p plain: \"attach\" below is a second plain proxy" >&2
fi

# one VIA LOAD: starts the proxy VIA, runs LOAD through it, prints "LOAD VIA RATE".
one() {
	local via=$1 load=$2 front pid rate name
	run=$((run + 1))
	name=$via-$run
	if [[ $via == plain || $same == plain ]]; then
		start "$name" "$tmp/$name.out" "$tmp/attachload" proxy -upstream "$up" -lifetime "$lifetime"
		pid=$last
		front=$(addr "$tmp/$name.out" "listening ")
	else
		# attach's stdout is the front end, thrown away; stderr says where to connect.
		local sinkto=/dev/null
		[[ $sink == pipe ]] && sinkto=pipe
		start "$name" "$sinkto" "$tmp/muxtop" attach "$up" --listen 127.0.0.1:0 -o "$output" --duration "$((secs + 30))s"
		pid=$last
		front=$(addr "$tmp/$name.err" "clients connect to ")
	fi
	local out
	if [[ $load == rand ]]; then
		out=$(timeout $((secs + 30)) "$tmp/attachload" rand -addr "$front" -callers "$callers" -duration "${secs}s" -version "$version")
	else
		out=$(timeout $((secs + 30)) "$tmp/attachload" bulk -addr "$front" -duration "${secs}s" -version "$version")
	fi
	stop "$pid"
	rate=$(sed -n 's/.* rate=\([0-9.]*\) .*/\1/p' <<<"$out")
	printf '%-4s %-6s %s   (%s)\n' "$load" "$via" "$rate" "$out" >&2
	echo "$load $via $rate"
}

results=$tmp/results
run=0
# Pairs alternate which proxy goes first, so that neither always runs
# on an upstream the other has just warmed.
for i in $(seq "$runs"); do
	for load in $loads; do
		if ((i % 2)); then
			one plain "$load" >>"$results"
			one attach "$load" >>"$results"
		else
			one attach "$load" >>"$results"
			one plain "$load" >>"$results"
		fi
	done
done

echo
awk -v runs="$runs" -v loads="$loads" '
function median(a, n,    i, j, t) {
	for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
	return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
}
{ k = $1 SUBSEP $2; n[k]++; r[k, n[k]] = $3 }
END {
	unit["rand"] = "req/s"; unit["bulk"] = "MB/s"
	nl = split(loads, ls, " ")
	for (l = 1; l <= nl; l++) {
		load = ls[l]
		m = n[load, "plain"]
		for (i = 1; i <= m; i++) { p[i] = r[load, "plain", i]; a[i] = r[load, "attach", i]; q[i] = a[i] / p[i] }
		mp = median(p, m); ma = median(a, m); mq = median(q, m)
		# median sorted q in place: its quartiles are at a quarter and three quarters.
		printf "%s: plain %.1f %s, attach %.1f %s (medians of %d); attach/plain %.3f (ratio of medians), %.3f (median of pair ratios, quartiles %.3f-%.3f)\n", load, mp, unit[load], ma, unit[load], m, ma / mp, mq, q[int((m+3)/4)], q[int((3*m+3)/4)]
	}
}' "$results"
