/* ingest_cmd: the `tessera ingest` subcommand. */
#ifndef TESSERA_INGEST_CMD_H
#define TESSERA_INGEST_CMD_H

int cmd_ingest(int argc, char **argv);

#endif
