/* sample_cmd: `tessera sample`, images from a generative checkpoint (eval/sample_cmd.c). */
#ifndef TESSERA_SAMPLE_CMD_H
#define TESSERA_SAMPLE_CMD_H

int cmd_sample(int argc, char **argv);

#endif
