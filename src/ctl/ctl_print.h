/* ctl_print: slb-ctl's output: answers of the admin endpoint as aligned tables, the state in
 * colour when the output is a terminal. */
#ifndef SLB_CTL_PRINT_H
#define SLB_CTL_PRINT_H

#include <jansson.h>
#include <stdbool.h>

struct ctl_style {
	bool colour; /* ANSI colours for states */
};

/* colour: whether to use ANSI colours (a terminal without NO_COLOR). */
void ctl_style_init(struct ctl_style *st, bool colour);

/* Print GET /status (backends, services, then workers), one backend (a change's answer), the list of
 * GET /events, and one event (a line of --follow). root is borrowed. */
void ctl_print_status(const struct ctl_style *st, json_t *root);
void ctl_print_backend(const struct ctl_style *st, json_t *root);
void ctl_print_events(const struct ctl_style *st, json_t *root);
void ctl_print_event(const struct ctl_style *st, json_t *e);

#endif
