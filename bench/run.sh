#!/usr/bin/env bash
# bench/run.sh: slb against HAProxy and nginx stream on loopback, one command.
#
#   bench/run.sh [--quick] [--rounds N] [--duration S] [--warmup S] [--scaling] [--outlier] [--replay]
#                [--clients] [--tls] [--out DIR]
#                [--src DIR] [--access-log] [--ref-bin PATH] [--scenario LIST] [--contender LIST]
#
# Installs the bench dependencies, builds slb (Release) into build-bench/, starts one nginx
# backend, then runs every scenario against every contender, interleaved, for N rounds, and
# writes bench/results/<date>/{results.md,results.csv,cpu_per_req.png} plus the raw wrk
# outputs. --scaling runs the slb --workers 1 vs 2 comparison instead. --src builds slb from
# another source tree (into DIR/build-bench/) instead of this checkout. --access-log compares
# slb with and without --access-log (and HAProxy) on conn-close and small keep-alive only;
# --outlier runs slb-auto against the same with --outlier-detection (small keep-alive and
# connection per request, HAProxy as the baseline, no idle test). --replay does the same for
# slb-replay (slb-auto with --retry-unanswered http); --clients for slb-clients (slb-auto with
# per-client limits high enough never to bind; connection per request only).
# --tls runs TLS passthrough with routing by server name: a real TLS handshake per connection
# (wrk https, Connection: close) to an nginx ssl backend, through HAProxy (req.ssl_sni), nginx
# stream (ssl_preread) and slb (an ADDR:PORT,sni listener), and direct to the backend.
# --ref-bin adds contender slb-ref: a prebuilt slb (e.g. main's), for before/after figures
# from one run. --scenario and --contender (comma-separated names) run only those. See
# bench/README.md.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")
TOOL=(python3 "$HERE/lib/benchtool.py")

usage() {
	sed -n '2,23s/^# \{0,1\}//p' "$0"
}

orig_args="$*"
quick=0 scaling=0 alog=0 outlier=0 replay=0 clients=0 tls=0 ref_bin='' rounds='' duration='' warmup='' out='' src=$REPO only_sc='' only_c=''
while (($#)); do
	case "$1" in
	--quick) quick=1 ;;
	--scaling) scaling=1 ;;
	--access-log) alog=1 ;;
	--outlier) outlier=1 ;;
	--tls) tls=1 ;;
	--replay) replay=1 ;;
	--clients) clients=1 ;;
	--ref-bin) ref_bin=$(realpath "${2:?--ref-bin PATH}"); shift ;;
	--rounds) rounds=${2:?--rounds N}; shift ;;
	--duration) duration=${2:?--duration S}; shift ;;
	--warmup) warmup=${2:?--warmup S}; shift ;;
	--out) out=${2:?--out DIR}; shift ;;
	--src) src=$(cd "${2:?--src DIR}" && pwd); shift ;;
	--scenario) only_sc+=${only_sc:+,}${2:?--scenario LIST}; shift ;;
	--contender) only_c+=${only_c:+,}${2:?--contender LIST}; shift ;;
	-h | --help) usage; exit 0 ;;
	*) echo "run.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
	esac
	shift
done
if ((quick)); then
	: "${rounds:=1}" "${duration:=2}" "${warmup:=1}"
	idle_hold=1
else
	: "${rounds:=3}" "${duration:=5}" "${warmup:=1}"
	idle_hold=3
fi
for v in "$rounds" "$duration" "$warmup"; do
	[[ "$v" =~ ^[0-9]+$ ]] || { echo "run.sh: rounds, duration and warmup are whole numbers" >&2; exit 2; }
done
((rounds >= 1 && duration >= 1)) || { echo "run.sh: rounds and duration must be >= 1" >&2; exit 2; }
idle_conns=5000       # the descriptor hard limit is 20,000 per process: stay well under it
wrk_timeout=5s        # a request slower than this counts as a wrk timeout error

# Descriptors: 1000 wrk connections, 5000 idle ones (x2 inside a proxy), all under 20,000.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if (($(ulimit -n) < 12000)); then
	echo "run.sh: ulimit -n is $(ulimit -n); the 1000-connection and idle scenarios need ~12000" >&2
	exit 1
fi

echo "== installing dependencies"
"$REPO/scripts/install-deps.sh" --bench
echo "== building slb (Release) into $src/build-bench/"
cmake -S "$src" -B "$src/build-bench" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$src/build-bench" -j2 --target slb >/dev/null
SLB="$src/build-bench/slb"
# The floor contender: always this checkout's, never slb's sources (bench/floor/floorfwd.c).
FLOOR="$src/build-bench/floorfwd"
cc -O2 -Wall -Wextra -o "$FLOOR" "$HERE/floor/floorfwd.c"
STREAM_MODULE=/usr/lib/nginx/modules/ngx_stream_module.so

ncpu=$(nproc)
if ((ncpu >= 2)); then
	CPU_LOAD=0 CPU_PROXY=1   # wrk + backend on CPU 0, the contender alone on CPU 1
else
	CPU_LOAD=0 CPU_PROXY=0
	echo "run.sh: WARNING: one CPU only, load and contender share it" >&2
fi

stamp=$(date +%Y-%m-%d-%H%M%S)
if [[ -z "$out" ]]; then
	suffix=
	((quick)) && suffix+=-quick
	((scaling)) && suffix+=-scaling
	((outlier)) && suffix+=-outlier
	((tls)) && suffix+=-tls
	((replay)) && suffix+=-replay
	((clients)) && suffix+=-clients
	out="$HERE/results/$stamp$suffix"
fi
mkdir -p "$out/raw"
tmp=$(mktemp -d /tmp/slb-bench.XXXXXX)
chmod 755 "$tmp"   # nginx workers run as nobody and read the 1 MiB file from here

# ---------------------------------------------------------------- process bookkeeping
STARTED=()   # every background process this script started, by PID

proc_alive() {
	[[ -r /proc/$1/stat ]] || return 1
	local st
	st=$(sed 's/.*) \(.\).*/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
	[[ "$st" != Z && "$st" != X ]]
}

# stop_pid PID: SIGTERM to PID, then SIGKILL to it and to the descendants it had
# (nginx workers) if they are still there after 3 s. Only PIDs this script started.
stop_pid() {
	local pid=$1 kids k i
	kids=$("${TOOL[@]}" pids "$pid" 2>/dev/null | tail -n +2 || true)
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 60; i++)); do
		proc_alive "$pid" || break
		sleep 0.05
	done
	for k in $kids; do
		for ((i = 0; i < 20; i++)); do proc_alive "$k" || break; sleep 0.05; done
	done
	for k in $kids $pid; do
		if proc_alive "$k"; then kill -KILL "$k" 2>/dev/null || true; fi
	done
	wait "$pid" 2>/dev/null || true
	local left=()
	for k in "${STARTED[@]}"; do [[ "$k" != "$pid" ]] && left+=("$k"); done
	STARTED=("${left[@]+"${left[@]}"}")
}

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	local p
	for p in "${STARTED[@]+"${STARTED[@]}"}"; do stop_pid "$p"; done
	rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT
trap 'echo "run.sh: interrupted" >&2; exit 130' INT TERM

# ---------------------------------------------------------------- backend (nginx)
head -c $((1024 * 1024)) /dev/urandom >"$tmp/1m"
chmod 644 "$tmp/1m"
BPORT=$("${TOOL[@]}" ports 1)
mkdir -p "$tmp/backend"
# --tls: the backend also speaks TLS on TPORT (a P-256 certificate for localhost, made here),
# and the contenders forward to that port; wrk sends SNI "localhost".
TPORT=$BPORT TLS_BLOCK=
if ((tls)); then
	TPORT=$("${TOOL[@]}" ports 1)
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=localhost \
		-keyout "$tmp/backend/tls.key" -out "$tmp/backend/tls.crt" 2>/dev/null
	TLS_BLOCK="server {
		listen 127.0.0.1:$TPORT ssl backlog=4096;
		ssl_certificate $tmp/backend/tls.crt;
		ssl_certificate_key $tmp/backend/tls.key;
		location = /small { default_type text/plain; return 200 \"hello\\n\"; }
	}"
fi
cat >"$tmp/backend/nginx.conf" <<EOF
# slb bench backend: one worker, no access log, short body on /small, 1 MiB on /1m.
worker_processes 1;
daemon off;
pid $tmp/backend/nginx.pid;
error_log $tmp/backend/error.log warn;
worker_rlimit_nofile 20000;
events { worker_connections 16000; }
http {
	access_log off;
	client_body_temp_path $tmp/backend/body;
	proxy_temp_path $tmp/backend/proxy;
	fastcgi_temp_path $tmp/backend/fastcgi;
	uwsgi_temp_path $tmp/backend/uwsgi;
	scgi_temp_path $tmp/backend/scgi;
	sendfile on;
	tcp_nopush on;
	keepalive_timeout 300s;
	keepalive_requests 100000000;
	server {
		listen 127.0.0.1:$BPORT backlog=4096;
		root $tmp;
		location = /small { default_type text/plain; return 200 "hello\n"; }
		location = /1m { default_type application/octet-stream; }
	}
	$TLS_BLOCK
}
EOF
start_backend() {
	local pin=("$@")
	"${pin[@]}" nginx -e "$tmp/backend/error.log" -p "$tmp/backend" -c "$tmp/backend/nginx.conf" \
		>"$tmp/backend/stdout.log" 2>&1 &
	BACKEND_PID=$!
	STARTED+=("$BACKEND_PID")
	if ! "${TOOL[@]}" wait-port "$BPORT" 5 "$BACKEND_PID"; then
		echo "run.sh: the nginx backend did not start:" >&2
		cat "$tmp/backend/error.log" "$tmp/backend/stdout.log" >&2 || true
		exit 1
	fi
	curl -fsS "http://127.0.0.1:$BPORT/small" >/dev/null
	[[ $(curl -fsS "http://127.0.0.1:$BPORT/1m" | wc -c) -eq 1048576 ]] ||
		{ echo "run.sh: backend /1m is not 1 MiB" >&2; exit 1; }
	((tls)) && curl -kfsS "https://127.0.0.1:$TPORT/small" >/dev/null
	return 0
}

# The contenders' upstream: the plain port, or with --tls the backend's TLS port.
UPORT() { ((tls)) && echo "$TPORT" || echo "$BPORT"; }

# ---------------------------------------------------------------- contenders
# start_contender NAME: starts it on a fresh free port (CPORT), pinned to CPU_PROXY unless
# PIN_PROXY is empty; CPID is its PID ("" for direct). An slb gets an admin port (APORT, else
# empty) for its loop-turn counter. Returns 1 if it did not come up.
start_contender() {
	local name=$1 dir="$tmp/$1"
	mkdir -p "$dir"
	APORT=
	CPID=
	if [[ "$name" == direct ]]; then
		CPORT=$(UPORT)
		return 0
	fi
	CPORT=$("${TOOL[@]}" ports 1)
	local cmd=() up
	up=$(UPORT)
	case "$name" in
	haproxy | haproxy-splice)
		{
			echo "global"
			echo "	nbthread 1"
			echo "	maxconn 6000"   # x2 sockets + pipes for splice: under the 20,000 fd limit
			echo "defaults"
			echo "	mode tcp"
			echo "	maxconn 6000"
			echo "	timeout connect 5s"
			echo "	timeout client 300s"
			echo "	timeout server 300s"
			if [[ "$name" == haproxy-splice ]]; then
				echo "	option splice-request"
				echo "	option splice-response"
			fi
			echo "frontend fe"
			echo "	bind 127.0.0.1:$CPORT"
			echo "	backlog 4096"
			if ((tls)); then # route by the ClientHello's server name, as slb's sni listener does
				echo "	tcp-request inspect-delay 5s"
				echo "	tcp-request content accept if { req.ssl_hello_type 1 }"
				echo "	use_backend be if { req.ssl_sni -i localhost }"
			fi
			echo "	default_backend be"
			echo "backend be"
			echo "	server s1 127.0.0.1:$up"
		} >"$dir/haproxy.cfg"
		cmd=(haproxy -db -f "$dir/haproxy.cfg")
		;;
	nginx-stream)
		cat >"$dir/nginx.conf" <<EOF
load_module $STREAM_MODULE;
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
worker_rlimit_nofile 20000;
events { worker_connections 16000; }
stream {
$( ((tls)) && printf '\tmap $ssl_preread_server_name $up {\n\t\tlocalhost 127.0.0.1:%s;\n\t\tdefault 127.0.0.1:%s;\n\t}\n' "$up" "$up")
	server {
		listen 127.0.0.1:$CPORT backlog=4096;
$( ((tls)) && printf '\t\tssl_preread on;\n\t\tproxy_pass $up;\n' || printf '\t\tproxy_pass 127.0.0.1:%s;\n' "$up")
	}
}
EOF
		cmd=(nginx -e "$dir/error.log" -p "$dir" -c "$dir/nginx.conf")
		;;
	floor)
		cmd=("$FLOOR" "$CPORT" "$BPORT")
		;;
	slb-auto) # with --tls: one service on an sni listener, routed by the name localhost
		if ((tls)); then
			printf '[service tls]\nlisten = 127.0.0.1:%s,sni\nsni = localhost\nbackend = 127.0.0.1:%s\n' \
				"$CPORT" "$up" >"$dir/slb.conf"
			cmd=("$SLB" -c "$dir/slb.conf" --workers 1 --no-pin --relay auto --drain-timeout 2000 --log-level warn)
		else
			cmd=("$SLB" --listen "127.0.0.1:$CPORT" --backend "127.0.0.1:$BPORT" --workers 1 --no-pin
				--relay auto --drain-timeout 2000 --log-level warn)
		fi
		;;
	slb-copy | slb-splice)
		cmd=("$SLB" --listen "127.0.0.1:$CPORT" --backend "127.0.0.1:$BPORT" --workers 1 --no-pin
			--relay "${name#slb-}" --drain-timeout 2000 --log-level warn)
		;;
	slb-outlier) # slb-auto plus the outlier verdicts: what --outlier-detection costs
		cmd=("$SLB" --listen "127.0.0.1:$CPORT" --backend "127.0.0.1:$BPORT" --workers 1 --no-pin
			--relay auto --outlier-detection --drain-timeout 2000 --log-level warn)
		;;
	slb-replay) # slb-auto holding each request for a replay: what --retry-unanswered http costs
		cmd=("$SLB" --listen "127.0.0.1:$CPORT" --backend "127.0.0.1:$BPORT" --workers 1 --no-pin
			--relay auto --retry-unanswered http --drain-timeout 2000 --log-level warn)
		;;
	slb-clients) # slb-auto plus per-client limits that never bind: what the check costs
		cmd=("$SLB" --listen "127.0.0.1:$CPORT" --backend "127.0.0.1:$BPORT" --workers 1 --no-pin
			--relay auto --drain-timeout 2000 --log-level warn --client-max-conns 1000000
			--client-max-rate 1000000)
		;;
	slb-auto-log)
		cmd=("$SLB" --listen "127.0.0.1:$CPORT" --backend "127.0.0.1:$BPORT" --workers 1 --no-pin
			--relay auto --drain-timeout 2000 --log-level warn --access-log "$dir/access.log")
		;;
	slb-ref)
		cmd=("$ref_bin" --listen "127.0.0.1:$CPORT" --backend "127.0.0.1:$BPORT" --workers 1 --no-pin
			--relay auto --drain-timeout 2000 --log-level warn)
		;;
	slb-w1 | slb-w2)
		cmd=("$SLB" --listen "127.0.0.1:$CPORT" --backend "127.0.0.1:$BPORT" --workers "${name#slb-w}"
			--no-pin --relay auto --drain-timeout 2000 --log-level warn)
		;;
	*)
		echo "run.sh: unknown contender $name" >&2
		return 1
		;;
	esac
	if [[ "$name" == slb-* ]]; then
		APORT=$("${TOOL[@]}" ports 1)
		cmd+=(--admin "127.0.0.1:$APORT")
	fi
	"${PIN_PROXY[@]}" "${cmd[@]}" >"$dir/stdout.log" 2>&1 &
	CPID=$!
	STARTED+=("$CPID")
	if ! "${TOOL[@]}" wait-port "$CPORT" 5 "$CPID" ||
		! curl -kfsS --max-time 5 --resolve "localhost:$CPORT:127.0.0.1" "$(scheme)://localhost:$CPORT/small" \
			>/dev/null 2>&1; then
		echo "   !! $name failed to start; skipped. Its output:" >&2
		tail -n 5 "$dir/stdout.log" "$dir/error.log" 2>/dev/null | sed 's/^/      /' >&2 || true
		stop_pid "$CPID"
		CPID=
		return 1
	fi
	# nginx: wait until the worker exists, so CPU and memory sums see it.
	local i
	for ((i = 0; i < 40; i++)); do
		[[ "$name" != nginx-stream ]] && break
		(($("${TOOL[@]}" pids "$CPID" | wc -l) >= 2)) && break
		sleep 0.05
	done
	return 0
}

# ---------------------------------------------------------------- scenarios
# name | connections | path | extra header
declare -A SC_CONNS=([small-keepalive]=50 [1MiB]=10 [conn-close]=50 [conn-close-500]=500 [c1000-keepalive]=1000
	[tls-conn-close]=50)
declare -A SC_PATH=([small-keepalive]=/small [1MiB]=/1m [conn-close]=/small [conn-close-500]=/small
	[c1000-keepalive]=/small [tls-conn-close]=/small)
declare -A SC_CLOSE=([small-keepalive]=0 [1MiB]=0 [conn-close]=1 [conn-close-500]=1 [c1000-keepalive]=0
	[tls-conn-close]=1)

# http, or https with --tls (every contender then forwards TLS it does not decrypt); the host
# is then localhost, which wrk sends as the server name (SNI) the contenders route by.
scheme() { ((tls)) && echo https || echo http; }
bench_host() { ((tls)) && echo localhost || echo 127.0.0.1; }

# run_wrk SCENARIO PORT SECONDS OUTFILE [RUSAGE_FILE]: one bounded wrk run, one thread; with
# RUSAGE_FILE, wrk's own CPU time is written there.
run_wrk() {
	local sc=$1 port=$2 secs=$3 outf=$4 ru=${5:-}
	local args=(-t1 "-c${SC_CONNS[$sc]}" "-d${secs}s" --timeout "$wrk_timeout" --latency)
	((SC_CLOSE[$sc])) && args+=(-H "Connection: close")
	local wrap=()
	[[ -n "$ru" ]] && wrap=("${TOOL[@]}" rusage "$ru")
	timeout --foreground -k 5 $((secs + 30)) "${PIN_LOAD[@]}" "${wrap[@]}" wrk "${args[@]}" \
		"$(scheme)://$(bench_host):$port${SC_PATH[$sc]}" >"$outf" 2>&1 || echo "wrk exit status $?" >>"$outf"
}

# slb_turns: the loop turns of all the contender's workers (slb_worker_loop_turns_total), or
# empty when it is not an slb or its admin port does not answer.
slb_turns() {
	[[ -n "$APORT" ]] || return 0
	curl -fsS --max-time 2 "http://127.0.0.1:$APORT/metrics" 2>/dev/null |
		awk '/^slb_worker_loop_turns_total/ { n += $2; seen = 1 } END { if (seen) print n }'
}

# tw_count FILTER: TIME_WAIT sockets matching an ss filter, e.g. '( dport = :PORT )'.
tw_count() {
	ss -Htan state time-wait "$1" 2>/dev/null | wc -l
}

# measure ROUND SCENARIO CONTENDER: fresh contender, warm-up, measured run; one line to runs.tsv.
# Around the measured run: CPU time of the contender and of the backend, busy and steal time
# of the whole machine (/proc/stat), and wrk's CPU time, so that the CPU others used meanwhile
# ("other load") can be told apart.
measure() {
	local r=$1 sc=$2 c=$3
	local outf="$out/raw/r${r}_${sc}_${c}.txt" status=ok hwm=0 wrk_s=0 turns0 turns1 turns= tw_wrk= tw_proxy=
	local c0 b0 busy0 steal0 t0 ipi0 cs0 pc0 c1 b1 busy1 steal1 t1 ipi1 cs1 pc1
	printf '   round %d  %-16s %-15s ' "$r" "$sc" "$c"
	if ! start_contender "$c"; then
		printf '%s\t%s\t%s\tstart-failed\t\t\t\t\t\t\t\t\n' "$r" "$sc" "$c" >>"$out/runs.tsv"
		echo "start failed"
		return 0
	fi
	((warmup > 0)) && run_wrk "$sc" "$CPORT" "$warmup" "$tmp/warmup.txt"
	turns0=$(slb_turns)
	read -r c0 b0 busy0 steal0 t0 ipi0 cs0 pc0 < <("${TOOL[@]}" snap "${CPID:--}" "$BACKEND_PID")
	run_wrk "$sc" "$CPORT" "$duration" "$outf" "$tmp/wrk.rusage"
	read -r c1 b1 busy1 steal1 t1 ipi1 cs1 pc1 < <("${TOOL[@]}" snap "${CPID:--}" "$BACKEND_PID")
	turns1=$(slb_turns)
	[[ -n "$turns0" && -n "$turns1" ]] && turns=$((turns1 - turns0))
	# Who closed each client connection first: its TIME_WAIT is on that side. The port is
	# this run's own (warm-up included); direct's is the shared backend's, so none for it.
	if [[ -n "$CPID" ]] && ((SC_CLOSE[$sc])); then
		tw_wrk=$(tw_count "( dport = :$CPORT )")
		tw_proxy=$(tw_count "( sport = :$CPORT )")
	fi
	[[ -s "$tmp/wrk.rusage" ]] && wrk_s=$(<"$tmp/wrk.rusage")
	rm -f "$tmp/wrk.rusage"
	if [[ -n "$CPID" ]]; then
		read -r hwm _ < <("${TOOL[@]}" mem "$CPID")
		proc_alive "$CPID" || status=died
		stop_pid "$CPID"
	fi
	grep -q '^wrk exit status' "$outf" && status=wrk-failed
	# round scenario contender status file contender_cpu_s peak_rss_kb backend_cpu_s wrk_cpu_s busy_s steal_s wall_s
	# loop_turns (slb only) tw_wrk tw_proxy (conn-close scenarios) ipi_load ipi_proxy (wake-up
	# interrupts received by the load's CPU and by the contender's) ctxt (context switches)
	# busy_load_s busy_proxy_s (busy time of the load's CPU and of the contender's)
	awk -v OFS='\t' -v r="$r" -v sc="$sc" -v c="$c" -v st="$status" -v f="$(basename "$outf")" -v hwm="$hwm" \
		-v c0="$c0" -v c1="$c1" -v b0="$b0" -v b1="$b1" -v w="$wrk_s" -v u0="$busy0" -v u1="$busy1" \
		-v s0="$steal0" -v s1="$steal1" -v t0="$t0" -v t1="$t1" -v turns="$turns" -v tww="$tw_wrk" -v twp="$tw_proxy" \
		-v i0="$ipi0" -v i1="$ipi1" -v cl="$CPU_LOAD" -v cp="$CPU_PROXY" -v cs0="$cs0" -v cs1="$cs1" \
		-v pc0="$pc0" -v pc1="$pc1" 'BEGIN {
			split(i0, a, ","); split(i1, b, ","); split(pc0, p, ","); split(pc1, q, ",")
			print r, sc, c, st, f, sprintf("%.2f", c1 - c0), hwm, sprintf("%.2f", b1 - b0), w,
				sprintf("%.2f", u1 - u0), sprintf("%.2f", s1 - s0), sprintf("%.3f", t1 - t0), turns, tww, twp,
				b[cl + 1] - a[cl + 1], b[cp + 1] - a[cp + 1], cs1 - cs0,
				sprintf("%.2f", q[cl + 1] - p[cl + 1]), sprintf("%.2f", q[cp + 1] - p[cp + 1])
		}' >>"$out/runs.tsv"
	awk '/Requests\/sec/ { printf "%s req/s", $2 }' "$outf"
	[[ "$status" != ok ]] && printf '  (%s)' "$status"
	echo
}

# idle ROUND CONTENDER: RSS with idle_conns idle connections through a fresh contender.
idle() {
	local r=$1 c=$2 line
	printf '   round %d  %-16s %-15s ' "$r" "idle-$idle_conns" "$c"
	if ! start_contender "$c"; then
		printf '%s\t%s\tstart-failed\t\t\t\t\t\n' "$r" "$c" >>"$out/idle.tsv"
		echo "start failed"
		return 0
	fi
	line=$(timeout --foreground -k 5 120 "${PIN_LOAD[@]}" "${TOOL[@]}" idle "$CPORT" "$CPID" "$idle_conns" "$idle_hold" ||
		echo "failed")
	local status=ok
	proc_alive "$CPID" || status=died
	stop_pid "$CPID"
	[[ "$line" == failed ]] && status=failed
	local rest='' idlekb='' reqkb='' opened='' answered=''
	for kv in $line; do
		case "$kv" in
		rest_kb=*) rest=${kv#*=} ;; idle_kb=*) idlekb=${kv#*=} ;; req_kb=*) reqkb=${kv#*=} ;;
		opened=*) opened=${kv#*=} ;; answered=*) answered=${kv#*=} ;;
		esac
	done
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$c" "$status" "$rest" "$idlekb" "$reqkb" "$opened" \
		"$answered" >>"$out/idle.tsv"
	echo "$line"
}

# ---------------------------------------------------------------- metadata
{
	echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "kernel=$(uname -r)"
	echo "cpu_model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
	echo "cpus=$ncpu"
	echo "clk_tck=$(getconf CLK_TCK)"
	echo "slb_rev=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)$(
		[[ -n "$(git -C "$REPO" status --porcelain -- src include CMakeLists.txt 2>/dev/null)" ]] && echo "+dirty")$(
		[[ "$src" != "$REPO" ]] && echo " built from $src")"
	echo "haproxy=$(haproxy -v 2>/dev/null | awk 'NR == 1 { print $3 }')"
	echo "nginx=$(nginx -v 2>&1 | sed 's/.*nginx\///')"
	echo "wrk=$(wrk --version 2>&1 | awk 'NR == 1 { print $2 }')"
	echo "rounds=$rounds"
	echo "duration=$duration"
	echo "warmup=$warmup"
	echo "idle_conns=$idle_conns"
	echo "idle_hold=$idle_hold"
	echo "quick=$quick"
	echo "command=bench/run.sh${orig_args:+ $orig_args}"
} >"$out/meta.env"

# pick_only VAR LIST KNOWN...: keeps in array VAR (in its order) the names of the comma-separated
# LIST, which must each be KNOWN; an empty LIST keeps VAR whole. A name of LIST missing from VAR
# but KNOWN is added (e.g. --contender slb-ref without --ref-bin fails at start, visibly).
pick_only() {
	local -n arr=$1
	local list=$2 name keep=() k
	shift 2
	[[ -z "$list" ]] && return 0
	for name in ${list//,/ }; do
		for k in "$@"; do [[ "$k" == "$name" ]] && continue 2; done
		echo "run.sh: unknown name '$name' (known: $*)" >&2
		exit 2
	done
	for k in "${arr[@]}"; do [[ ",$list," == *",$k,"* ]] && keep+=("$k"); done
	for name in ${list//,/ }; do [[ " ${keep[*]} " == *" $name "* ]] || keep+=("$name"); done
	arr=("${keep[@]}")
}

# ---------------------------------------------------------------- main run or scaling run
if ((scaling)); then
	# Nothing pinned: wrk, the backend and slb's workers all share the CPUs.
	PIN_LOAD=() PIN_PROXY=()
	echo "scaling=1" >>"$out/meta.env"
	start_backend
	contenders=(direct slb-w1 slb-w2)
	scenarios=(small-keepalive)
	run_idle=0
	echo "== scaling: ${contenders[*]}, small keep-alive, $rounds rounds x ${duration}s, unpinned"
else
	PIN_LOAD=(taskset -c "$CPU_LOAD") PIN_PROXY=(taskset -c "$CPU_PROXY")
	start_backend "${PIN_LOAD[@]}"
	contenders=(direct floor haproxy haproxy-splice nginx-stream slb-copy slb-splice slb-auto)
	scenarios=(small-keepalive 1MiB conn-close conn-close-500 c1000-keepalive)
	if ((alog)); then
		contenders=(haproxy slb-auto slb-auto-log)
		scenarios=(conn-close small-keepalive)
	fi
	if ((outlier)); then
		contenders=(haproxy slb-auto slb-outlier)
		scenarios=(small-keepalive conn-close)
	fi
	if ((tls)); then
		contenders=(direct haproxy nginx-stream slb-auto)
		scenarios=(tls-conn-close)
		echo "tls=1" >>"$out/meta.env"
	fi
	if ((replay)); then
		contenders=(haproxy slb-auto slb-replay)
		scenarios=(small-keepalive conn-close)
	fi
	if ((clients)); then
		contenders=(haproxy slb-auto slb-clients)
		scenarios=(conn-close conn-close-500)
	fi
	if [[ -n "$ref_bin" ]]; then
		contenders+=(slb-ref)
	fi
	pick_only contenders "$only_c" direct floor haproxy haproxy-splice nginx-stream slb-copy slb-splice slb-auto \
		slb-auto-log slb-outlier slb-replay slb-clients slb-ref
	# "idle" names the memory-per-idle-connection test, run after each round's scenarios
	((outlier || replay || clients || tls)) || scenarios+=(idle)
	pick_only scenarios "$only_sc" "${!SC_CONNS[@]}" idle
	run_idle=0
	[[ " ${scenarios[*]} " == *" idle "* ]] && run_idle=1
	scenarios=(${scenarios[@]/idle/})
	echo "== ${contenders[*]} x ${scenarios[*]} x $rounds rounds x ${duration}s" \
		"(+${warmup}s warm-up each)$( ((run_idle)) && echo ", then idle memory")"
fi
: >"$out/runs.tsv"
: >"$out/idle.tsv"
echo "   results: $out"

for ((r = 1; r <= rounds; r++)); do
	for sc in "${scenarios[@]}"; do
		for c in "${contenders[@]}"; do
			measure "$r" "$sc" "$c"
		done
	done
	if ((!scaling && run_idle)); then
		for c in "${contenders[@]}"; do
			[[ "$c" == direct ]] && continue
			idle "$r" "$c"
		done
	fi
done

echo "== summarizing"
if ((scaling)); then
	python3 "$HERE/lib/summarize.py" scaling "$out"
	cat "$out/scaling.md"
else
	python3 "$HERE/lib/summarize.py" main "$out"
	if gnuplot -e "datafile='$out/cpu_per_req.dat'; outfile='$out/cpu_per_req.png'" "$HERE/lib/chart.gp" \
		2>"$tmp/gnuplot.err"; then
		echo "   chart: $out/cpu_per_req.png"
	else
		echo "run.sh: gnuplot failed: $(cat "$tmp/gnuplot.err")" >&2
	fi
	cat "$out/results.md"
fi
