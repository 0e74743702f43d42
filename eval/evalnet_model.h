/* evalnet_model: the feature network trained by `tessera train` (model = evalnet). */
#ifndef TESSERA_EVALNET_MODEL_H
#define TESSERA_EVALNET_MODEL_H

#include "../train/model.h"

extern const ModelKind EVALNET_MODEL;

#endif
