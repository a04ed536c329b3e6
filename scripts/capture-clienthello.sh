#!/bin/sh
# Captures real TLS ClientHellos as fuzz seeds for tests/fuzz/fuzz_clienthello.c: a one-shot
# listener on 127.0.0.1 keeps the first bytes a client sends (its whole first flight up to the
# end of the hello, which is all the client sends before the server answers), and each client
# below is pointed at it. Loopback only; the client's handshake then fails, as it should.
#   scripts/capture-clienthello.sh [OUTDIR]   (default tests/fuzz/corpus/clienthello)
set -eu
out=${1:-tests/fuzz/corpus/clienthello}
mkdir -p "$out"

# One connection on 127.0.0.1:$1: read for up to 2 s or until 16 KiB + 5, save to $2.
listen_once() {
	python3 - "$1" "$2" <<'PY' &
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1)
c, _ = s.accept(); c.settimeout(0.5); data = b""; end = time.time() + 2
while time.time() < end and len(data) < 16389:
    try:
        chunk = c.recv(16389 - len(data))
    except socket.timeout:
        if data: break
        continue
    if not chunk: break
    data += chunk
open(sys.argv[2], "wb").write(data)
PY
	for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
		ss -ltn "sport = :$1" | grep -q LISTEN && break
		sleep 0.1
	done
}

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
capture() { # NAME, then the client's command with PORT in it
	name=$1; shift
	listen_once "$port" "$out/$name"
	cmd=$(printf '%s' "$*" | sed "s/PORT/$port/g")
	sh -c "$cmd" </dev/null >/dev/null 2>&1 || true
	wait
	printf '%s: %s bytes\n' "$name" "$(wc -c <"$out/$name")"
}

cv=$(curl --version | awk 'NR==1 {print $2}')
ov=$(openssl version | awk '{print $2}')
capture "curl-$cv-tls1.2-only" "curl -sk -m 3 --tlsv1.2 --tls-max 1.2 --resolve api.example.com:PORT:127.0.0.1 https://api.example.com:PORT/"
capture "curl-$cv-wildcard-name" "curl -sk -m 3 --resolve v2.api.example.com:PORT:127.0.0.1 https://v2.api.example.com:PORT/"
capture "openssl-$ov-tls1.3-servername" "timeout 3 openssl s_client -tls1_3 -connect 127.0.0.1:PORT -servername web.example.com"
capture "openssl-$ov-alpn-h2-servername" "timeout 3 openssl s_client -connect 127.0.0.1:PORT -servername api.example.com -alpn h2,http/1.1"
