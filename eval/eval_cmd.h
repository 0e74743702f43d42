/* eval_cmd: the `tessera eval` subcommand. */
#ifndef TESSERA_EVAL_CMD_H
#define TESSERA_EVAL_CMD_H

int cmd_eval(int argc, char **argv);

#endif
