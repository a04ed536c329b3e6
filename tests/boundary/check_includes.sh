#!/usr/bin/env bash
# The include side of the plane boundary (the link side is the slb_boundary_* targets):
# src/dataplane includes nothing of the control plane, src/control nothing of the data
# plane, src/common and include/slb/common neither, nor src/agent and src/demo. Prints every
# offending line; exit 1 if any.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bad=0
check() { # dir forbidden-pattern
	if grep -rnE "#include \"($2)" "$root/$1"; then
		bad=1
	fi
}
check src/dataplane 'slb/control/'
check include/slb/dataplane 'slb/control/'
check src/control 'slb/dataplane/'
check include/slb/control 'slb/dataplane/'
check src/common 'slb/(control|dataplane)/'
check include/slb/common 'slb/(control|dataplane)/'
check src/agent 'slb/(control|dataplane)/'
check src/demo 'slb/(control|dataplane)/'
exit $bad
