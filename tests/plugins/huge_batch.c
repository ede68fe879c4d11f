/*
 * huge_batch.c - the consumer provider of failing_consumer.c declaring
 * max_batch UINT32_MAX, more than the host allows: the host must refuse it
 * at load (one log line, a status in Stats) and keep serving every other
 * consumer.
 */
#include <stdint.h>

#define FC_MAX_BATCH UINT32_MAX
#define FC_NAME "huge_batch"
#include "failing_consumer.c"
