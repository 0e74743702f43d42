/* eval_cmd: the `tessera eval METRIC ...` subcommand, one function per metric (docs/CLI.md,
 * docs/EVAL.md). Each takes argv with argv[0] = the metric's name and returns an EXIT_ code. */
#ifndef TESSERA_EVAL_CMD_H
#define TESSERA_EVAL_CMD_H

#include <stddef.h>

int cmd_eval(int argc, char **argv);

/* A count flag's value (--n, --limit, --seed, ...): a decimal integer, ≥ 1 unless zero_ok.
 * Reports "FLAG: expected ..." and returns -1 otherwise. */
int eval_parse_count(const char *flag, const char *text, int zero_ok, size_t *out);

int cmd_eval_recon(int argc, char **argv);  /* eval/recon_cmd.c */
/* fd, kid, is, prdc, cas: the metric is argv[0] (eval/distribution_cmd.c). */
int cmd_eval_distribution(int argc, char **argv);
int cmd_eval_probe(int argc, char **argv);  /* eval/probe_cmd.c */
int cmd_eval_report(int argc, char **argv); /* eval/report_cmd.c */

#endif
