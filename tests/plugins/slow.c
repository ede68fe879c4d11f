/*
 * slow.c - the recording consumer of record.c without batching
 * (max_batch 1): one IndicateToConsumer call per event, each sleeping the
 * consumer's DelayMs, so that a queue of N events takes N x DelayMs to
 * drain.  Used for the shutdown drain and back-pressure tests.
 */
#define REC_MAX_BATCH 1
#define REC_NAME "slow"
#include "record.c"
