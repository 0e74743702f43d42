/* tokenize_cmd: the `tessera tokenize` and `tessera detokenize` subcommands. */
#ifndef TESSERA_TOKENIZE_CMD_H
#define TESSERA_TOKENIZE_CMD_H

int cmd_tokenize(int argc, char **argv);
int cmd_detokenize(int argc, char **argv);

#endif
