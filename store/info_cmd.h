/* info_cmd: the `tessera info` subcommand. */
#ifndef TESSERA_INFO_CMD_H
#define TESSERA_INFO_CMD_H

int cmd_info(int argc, char **argv);

#endif
