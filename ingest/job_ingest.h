/* job_ingest: the pool job run by ingest workers (decode, crop, resize). */
#ifndef TESSERA_JOB_INGEST_H
#define TESSERA_JOB_INGEST_H

#include "pool.h"

extern const JobKind INGEST_JOB;

#endif
