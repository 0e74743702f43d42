/* train_cmd: the `tessera train` subcommand. */
#ifndef TESSERA_TRAIN_CMD_H
#define TESSERA_TRAIN_CMD_H

int cmd_train(int argc, char **argv);

#endif
