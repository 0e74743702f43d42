/* vqvae_model: the VQ-VAE tokenizer as a model of `tessera train` (model = vqvae). */
#ifndef TESSERA_VQVAE_MODEL_H
#define TESSERA_VQVAE_MODEL_H

#include "../train/model.h"

extern const ModelKind VQVAE_MODEL;

#endif
