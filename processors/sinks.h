/* sinks.h: the Kafka sink (scored records and DLQ copies as outputs of each
 * message) and the Redis sink (the batch's customer-hash changes as state
 * ops for the gateway's one Redis step per partition batch). */
#ifndef SQ_SINKS_H
#define SQ_SINKS_H

#include "processor.h"

extern const struct sq_processor sq_proc_sink_kafka;
extern const struct sq_processor sq_proc_sink_redis;

/* The settings the Kafka sink was initialised with (its ctx). */
const struct sq_settings *sq_sink_kafka_settings(void *ctx);
/* Adds the DLQ copy of a DLQ message: original key and bytes, sq-error,
 * sq-error-detail and sq-source headers. */
void sq_dlq_output_add(struct sq_msg *m, const struct sq_settings *st);

/* Adds the timer breaches a message carries (after its own breaches). */
void sq_timer_outputs_add(struct sq_msg *m, const struct sq_settings *st);
/* Adds the KPI records a message carries (kpi_records: after its timer
 * breaches) to topics.kpi, schema kpi.v1, with their own sq-source. */
void sq_kpi_outputs_add(struct sq_msg *m, const struct sq_settings *st);

/* Op codes of the state ops the Redis sink emits (gateway/redis_link.c
 * applies them inside the partition's atomic step, with gateway/step_lua.h). */
#define SQ_OP_CUSTOMER "C" /* the customer op; its arguments: store.h */

#endif
