/* libFuzzer harness for hb_parse_line: every input is one heartbeat line as a peer could send
 * it. Beyond ASan and UBSan, it checks what the health thread relies on: a parsed message is
 * within the ranges heartbeat.h promises, and an error text is a short printable reason. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "slb/common/heartbeat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
	if (!ok)
		abort();
}

static void check_msg(const struct hb_msg *m, size_t size)
{
	char text[ADDR_TEXT_MAX];
	struct slb_addr again;

	check(m->verb == HB_VERB_REGISTER || m->verb == HB_VERB_HEARTBEAT || m->verb == HB_VERB_BYE);
	check(m->weight <= 256);
	check(m->load >= -1 && m->load <= 100);
	check(strnlen(m->name, HB_NAME_MAX) < HB_NAME_MAX);
	check(!m->has_mac || strlen(m->mac) == HB_MAC_HEX);
	check(m->signed_len <= size);
	check(strcmp(hb_verb_name(m->verb), "NONE") != 0);
	check(!m->has_state || strcmp(hb_state_name(m->state), "?") != 0);
	if (m->verb != HB_VERB_REGISTER)
		return;
	/* an address slb will connect to prints and parses back to itself */
	check(m->addr.ss.ss_family == AF_INET || m->addr.ss.ss_family == AF_INET6);
	addr_format(&m->addr, text, sizeof(text));
	check(addr_parse(text, &again, NULL, 0) == 0 && addr_equal(&again, &m->addr));
}

static void check_err(const char *err)
{
	size_t n = strnlen(err, 64);

	check(n > 0 && n < 64);
	for (size_t i = 0; i < n; i++)
		check(err[i] >= 0x20 && err[i] < 0x7f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *line = (const char *)data;
	struct hb_msg m;
	char err[64];
	int rc;

	memset(err, 0, sizeof(err));
	rc = hb_parse_line(line, size, &m, err, sizeof(err));
	check(rc == 0 || rc == -EINVAL);
	if (rc == 0)
		check_msg(&m, size);
	else
		check_err(err);
	/* no error buffer, or a one-byte one, is allowed too and changes nothing */
	check(hb_parse_line(line, size, &m, NULL, 0) == rc);
	check(hb_parse_line(line, size, &m, err, 1) == rc && err[0] == '\0');
	return 0;
}
