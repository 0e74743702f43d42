/* worker_cmd: the `tessera worker` subcommand. */
#ifndef TESSERA_WORKER_CMD_H
#define TESSERA_WORKER_CMD_H

int cmd_worker(int argc, char **argv);

#endif
