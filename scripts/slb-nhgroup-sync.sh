#!/usr/bin/env bash
# slb-nhgroup-sync: on a Linux router, keeps the route to slb's service address on a resilient
# next-hop group whose members are the slb instances that bird2 has from BGP.
#
# Why (docs/scale-out.md, "What is lost"): slb terminates TCP, so a flow that the router moves
# to another instance is reset there. A plain multipath route rehashes flows whenever the set of
# next hops changes; a resilient group (Linux 5.13+) gives each next hop buckets, moves a
# removed next hop's buckets only, and hands an added (or re-weighted) next hop only buckets
# that have been idle for IDLE_TIMER seconds (unbalanced_timer 0: a busy bucket never moves).
# bird cannot install such a group itself, so bird's kernel protocol stays out of the service
# route (etc/bird/router.conf) and this script follows what bird has instead:
#   - an instance announcing the address without a community: a member of weight 255;
#   - one announcing it with GRACEFUL_SHUTDOWN (65535,0), which slb-ready-watch sets while slb
#     drains: a member of weight 1, so its idle buckets go to the others while the flows it
#     still carries keep theirs (a planned removal resets none of them);
#   - one whose route is gone (slb died, BGP or BFD went down, the drain ended): removed at
#     once, and its buckets are spread over the others.
# It polls `birdc show route VIP/32 all` every INTERVAL seconds and changes the kernel only when
# the members or their weights change, with one line on stdout each time. No route from bird:
# the service route and the group are deleted. bird not answering: nothing is changed (a route
# that was right a moment ago beats none); a line says so. Stopped (SIGTERM), it leaves the
# kernel as it is: restarted, it adopts the group and the member next hops it finds.
#
# Usage: slb-nhgroup-sync.sh VIP BIRD_SOCKET [GROUP_ID [IDLE_TIMER [INTERVAL [BUCKETS]]]]
#   VIP         the service address (IPv4), e.g. 192.0.2.10
#   BIRD_SOCKET bird's control socket, e.g. /run/bird/bird.ctl
#   GROUP_ID    id of the group (default 100); members take the ids after it (GROUP_ID+1 ...)
#   IDLE_TIMER  seconds a bucket must be idle before it may move (default 30): more than the
#               longest pause of a connection that must survive a join, and less than the drain (slb --ready-grace)
#   INTERVAL    seconds between two reads of bird (default 0.1)
#   BUCKETS     buckets in the group (default 128), fixed once the group exists
# Installed as slb-nhgroup-sync, run by slb-nhgroup-sync@.service (docs/scale-out.md).
set -u

usage() {
	echo "usage: $0 VIP BIRD_SOCKET [GROUP_ID [IDLE_TIMER [INTERVAL [BUCKETS]]]]" >&2
	exit 2
}
(($# >= 2 && $# <= 6)) || usage
vip=$1 sock=$2 group=${3:-100} idle=${4:-30} interval=${5:-0.1} buckets=${6:-128}
ipv4='^([0-9]{1,3}\.){3}[0-9]{1,3}$'
[[ $vip =~ $ipv4 ]] || { echo "slb-nhgroup-sync: VIP '$vip' is not an IPv4 address" >&2; usage; }
[[ $group =~ ^[1-9][0-9]{0,8}$ ]] || { echo "slb-nhgroup-sync: GROUP_ID '$group' is not 1-999999999" >&2; usage; }
[[ $idle =~ ^[0-9]+$ ]] || { echo "slb-nhgroup-sync: IDLE_TIMER '$idle' is not whole seconds" >&2; usage; }
[[ $interval =~ ^[0-9]*\.?[0-9]+$ ]] || { echo "slb-nhgroup-sync: INTERVAL '$interval' is not seconds" >&2; usage; }
[[ $buckets =~ ^[1-9][0-9]*$ ]] || { echo "slb-nhgroup-sync: BUCKETS '$buckets' is not a count" >&2; usage; }
command -v birdc >/dev/null || { echo "slb-nhgroup-sync: birdc not found (install bird2)" >&2; exit 1; }

declare -A member # "IP DEV" -> next-hop id
applied="-"       # the member list last put in the kernel ("-": not yet)
bird_ok=1

log() { echo "$(date +%T.%3N) slb-nhgroup-sync: $*"; }

# Members left by an earlier run (ids GROUP_ID+1 ... GROUP_ID+999): reused, not duplicated.
adopt() {
	local id ip dev
	while read -r id ip dev; do
		((id > group && id < group + 1000)) && member["$ip $dev"]=$id
	done < <(ip -o -4 nexthop show 2>/dev/null | awk '$1 == "id" && $3 == "via" && $5 == "dev" { print $2, $4, $6 }')
}

# The instances bird has a route from, one "IP DEV WEIGHT" a line, sorted: the gateway and
# interface of each route ("via IP on DEV") and 1 when its communities hold (65535,0).
announced() {
	local out
	out=$(birdc -s "$sock" show route "$vip/32" all 2>&1) || return 1
	[[ $out == *"BIRD "*" ready."* ]] || return 1
	awk '
		function flush() { if (ip != "") print ip, dev, weight; ip = "" }
		/^[ \t]+via [0-9.]+ on / { flush(); ip = $2; dev = $4; weight = 255; next }
		/BGP\.community:/ && /\(65535,0\)/ { weight = 1 }
		END { flush() }' <<<"$out" | sort -u
}

# Sets nh_id to the next-hop id for IP on DEV, made when new (no $(...): the map must last).
member_id() {
	local key="$1 $2" id=$((group + 1))
	if [[ -z ${member[$key]:-} ]]; then
		while [[ " ${member[*]} " == *" $id "* ]] || ip nexthop show id "$id" >/dev/null 2>&1; do
			id=$((id + 1))
		done
		ip nexthop add id "$id" via "$1" dev "$2" || return 1
		member[$key]=$id
	fi
	nh_id=${member[$key]}
}

# Puts the members (lines of announced) in the kernel: the group, then the route on it; next
# hops no longer announced are deleted last, which takes them out of the group.
apply() {
	local spec="" ip dev w id key keep=" "
	while read -r ip dev w; do
		[[ -n $ip ]] || continue
		member_id "$ip" "$dev" || return 1
		spec+="${spec:+/}$nh_id,$w"
		keep+="$nh_id "
	done <<<"$1"
	if [[ -z $spec ]]; then
		ip nexthop del id "$group" 2>/dev/null # takes the route with it
	elif ip nexthop show id "$group" >/dev/null 2>&1; then
		ip nexthop replace id "$group" group "$spec" type resilient idle_timer "$idle" unbalanced_timer 0 || return 1
	else
		ip nexthop add id "$group" group "$spec" type resilient buckets "$buckets" idle_timer "$idle" \
			unbalanced_timer 0 || return 1
	fi
	[[ -z $spec ]] || ip route replace "$vip/32" nhid "$group" proto bgp || return 1
	for key in "${!member[@]}"; do
		id=${member[$key]}
		[[ $keep == *" $id "* ]] && continue
		ip nexthop del id "$id" 2>/dev/null
		unset "member[$key]"
	done
}

describe() {
	[[ -z $1 ]] && { echo "no instance announces $vip: route deleted"; return; }
	awk -v vip="$vip" '{ s = s sep $1 ($3 == 1 ? " (draining, weight 1)" : ""); sep = ", " }
		END { print vip " -> " s }' <<<"$1"
}

trap 'log "stopped; the route to $vip stays as it is"; exit 0' TERM INT
adopt
while :; do
	if now=$(announced); then
		((bird_ok)) || log "bird answers again"
		bird_ok=1
		if [[ $now != "$applied" ]]; then
			if apply "$now"; then
				applied=$now
				log "$(describe "$now")"
			else
				log "could not update the kernel; retrying"
			fi
		fi
	elif ((bird_ok)); then
		bird_ok=0
		log "bird does not answer on $sock; the route to $vip stays as it is"
	fi
	sleep "$interval" &
	wait $! # a trap runs at once, not after the sleep
done
