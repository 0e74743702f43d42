/* export_cmd: the `tessera export` subcommand. */
#ifndef TESSERA_EXPORT_CMD_H
#define TESSERA_EXPORT_CMD_H

int cmd_export(int argc, char **argv);

#endif
