/* libFuzzer harness for proxy_parse: every input is the first bytes a client behind another
 * balancer could send. Beyond ASan and UBSan, it checks what the worker relies on: a complete
 * header is never longer than the input nor than PROXY_HDR_MAX, every prefix of a complete
 * header asks for more (so a header split across reads is never refused), and addresses it
 * returns are IP addresses that a PROXY header slb builds carries back unchanged. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "slb/common/proxy_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
	if (!ok)
		abort();
}

static void check_round_trip(const struct proxy_info *pi)
{
	unsigned char buf[PROXY_V1_MAX + 1];
	struct proxy_info again;

	check(pi->src.ss.ss_family == AF_INET || pi->src.ss.ss_family == AF_INET6);
	check(pi->src.ss.ss_family == pi->dst.ss.ss_family);
	for (int ver = PROXY_V1; ver <= PROXY_V2; ver++) {
		int n = proxy_build((enum proxy_version)ver, &pi->src, &pi->dst, buf, sizeof(buf));

		check(n > 0 && proxy_parse(buf, (size_t)n, &again) == n && again.has_addrs);
		check(addr_equal(&again.src, &pi->src) && addr_equal(&again.dst, &pi->dst));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proxy_info pi;
	int rc = proxy_parse(data, size, &pi);

	check(rc == 0 || rc == -EINVAL || rc == -E2BIG || (rc > 0 && (size_t)rc <= size));
	check(rc <= PROXY_HDR_MAX);
	if (rc <= 0)
		return 0;
	if (pi.has_addrs)
		check_round_trip(&pi);
	/* the same header cut anywhere before its end is a prefix to wait on */
	for (int cut = 0; cut < rc; cut += 1 + cut / 8)
		check(proxy_parse(data, (size_t)cut, &pi) == 0);
	return 0;
}
