/* kafka.h: librdkafka clients as sqgate configures them (consumer in a
 * cooperative-sticky group with manual offset handling, idempotent
 * producer), the start-up topic check and seeks. */
#ifndef SQ_KAFKA_H
#define SQ_KAFKA_H

#include <librdkafka/rdkafka.h>

#include "settings.h"
#include "sq_common.h"

struct sq_kafka_callbacks {
    void *opaque; /* rd_kafka_opaque() of both clients */
    void (*rebalance)(rd_kafka_t *, rd_kafka_resp_err_t, rd_kafka_topic_partition_list_t *, void *);
    void (*commit)(rd_kafka_t *, rd_kafka_resp_err_t, rd_kafka_topic_partition_list_t *, void *);
    void (*error)(rd_kafka_t *, int, const char *, void *);
    void (*delivery)(rd_kafka_t *, const rd_kafka_message_t *, void *);
};

/* New clients; NULL with err on a configuration error. */
rd_kafka_t *sq_kafka_consumer_new(const struct sq_settings *st, const struct sq_kafka_callbacks *cb,
                                  struct sq_err *err);
rd_kafka_t *sq_kafka_producer_new(const struct sq_settings *st, const struct sq_kafka_callbacks *cb,
                                  struct sq_err *err);
/* Every input and output topic must exist (sqgate never creates topics):
 * SQ_OK, or an error naming each missing one. */
int sq_kafka_check_topics(rd_kafka_t *rk, const struct sq_settings *st, struct sq_err *err);
int sq_kafka_subscribe(rd_kafka_t *rk, const struct sq_settings *st, struct sq_err *err);
/* Moves an assigned partition's fetch position (bounded wait). Returns the
 * partition's error (logged), 0 when it moved. */
rd_kafka_resp_err_t sq_kafka_seek(rd_kafka_t *rk, const char *topic, int32_t partition,
                                  int64_t offset);
/* Pauses (pause true) or resumes the fetch of one assigned partition. */
void sq_kafka_pause_one(rd_kafka_t *rk, const char *topic, int32_t partition, bool pause);

#endif
