/* test_wake.c: the main loop's wake-up (gateway/wake.c). A wait ends at the
 * first signal, from any thread, or at its time; it forgets the signals
 * before it, however many; a job thread's end and a librdkafka delivery
 * report (a producer on librdkafka's own mock cluster) each signal it. */
#include <criterion/criterion.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <unistd.h>

#include "job_thread.h"
#include "wake.h"

/* ms that sq_wake_wait(w, wait_ms) took */
static int64_t timed_wait(struct sq_wake *w, int wait_ms)
{
    int64_t t0 = sq_mono_ms();
    sq_wake_wait(w, wait_ms);
    return sq_mono_ms() - t0;
}

static struct sq_wake *wake_new(void)
{
    struct sq_err err;
    sq_err_clear(&err);
    struct sq_wake *w = sq_wake_new(&err);
    cr_assert_not_null(w, "%s", err.msg);
    return w;
}

Test(wake, waits_its_time_without_a_signal)
{
    struct sq_wake *w = wake_new();
    int64_t took = timed_wait(w, 60);
    cr_assert_geq(took, 55, "a wait of 60 ms with no signal ended after %lld ms", (long long)took);
    sq_wake_free(w);
}

Test(wake, a_signal_before_the_wait_ends_it_at_once_and_is_then_forgotten)
{
    struct sq_wake *w = wake_new();
    sq_wake_signal(w);
    int64_t took = timed_wait(w, 20000);
    cr_assert_lt(took, 5000, "a signalled wait took %lld ms", (long long)took);
    took = timed_wait(w, 60);
    cr_assert_geq(took, 55, "the signal woke a second wait too (after %lld ms)", (long long)took);
    sq_wake_free(w);
}

/* More signals than the pipe holds: none blocks, one wait takes them all. */
Test(wake, many_signals_never_block_and_one_wait_forgets_them_all)
{
    struct sq_wake *w = wake_new();
    for (int i = 0; i < 200000; i++)
        sq_wake_signal(w);
    int64_t took = timed_wait(w, 20000);
    cr_assert_lt(took, 5000, "a signalled wait took %lld ms", (long long)took);
    took = timed_wait(w, 60);
    cr_assert_geq(took, 55, "signals were left after a wait (it ended after %lld ms)",
                  (long long)took);
    sq_wake_free(w);
}

static void *signal_later(void *arg)
{
    usleep(50000);
    sq_wake_signal(arg);
    return NULL;
}

Test(wake, a_signal_from_another_thread_ends_a_wait)
{
    struct sq_wake *w = wake_new();
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, signal_later, w), 0);
    int64_t took = timed_wait(w, 20000);
    pthread_join(th, NULL);
    cr_assert_lt(took, 5000, "the other thread's signal did not end the wait (%lld ms)",
                 (long long)took);
    cr_assert_geq(took, 40, "the wait ended before the signal (%lld ms)", (long long)took);
    sq_wake_free(w);
}

static void slow_job(void *arg)
{
    (void)arg;
    usleep(50000);
}

Test(wake, a_job_threads_end_signals_it)
{
    struct sq_wake *w = wake_new();
    struct sq_err err;
    sq_err_clear(&err);
    struct sq_job_thread *t = sq_job_thread_new("test", w, &err);
    cr_assert_not_null(t, "%s", err.msg);
    cr_assert(sq_job_thread_submit(t, slow_job, NULL));
    int64_t took = timed_wait(w, 20000);
    cr_assert_lt(took, 5000, "the job's end did not end the wait (%lld ms)", (long long)took);
    cr_assert(sq_job_thread_collect(t, 0), "woken before the job ended");
    sq_job_thread_free(t);
    sq_wake_free(w);
}

static int reports;

static void count_report(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    cr_assert_eq(m->err, RD_KAFKA_RESP_ERR_NO_ERROR, "%s", rd_kafka_err2str(m->err));
    reports++;
}

/* As runtime.c sets it up: the producer's main queue writes to the pipe
 * when a delivery report comes to it empty. */
Test(wake, a_delivery_report_signals_it, .timeout = 100)
{
    struct sq_wake *w = wake_new();
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    cr_assert_eq(rd_kafka_conf_set(conf, "test.mock.num.brokers", "1", errstr, sizeof errstr),
                 RD_KAFKA_CONF_OK, "%s", errstr);
    cr_assert_eq(rd_kafka_conf_set(conf, "linger.ms", "0", errstr, sizeof errstr),
                 RD_KAFKA_CONF_OK, "%s", errstr);
    cr_assert_eq(rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr),
                 RD_KAFKA_CONF_OK, "%s", errstr);
    rd_kafka_conf_set_dr_msg_cb(conf, count_report);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    cr_assert_not_null(rk, "%s", errstr);
    rd_kafka_queue_t *q = rd_kafka_queue_get_main(rk);
    rd_kafka_queue_io_event_enable(q, sq_wake_write_fd(w), "d", 1);
    rd_kafka_queue_destroy(q);
    for (int round = 1; round <= 3; round++) {
        rd_kafka_poll(rk, 0); /* empties the queue, as the loop does each round */
        sq_wake_wait(w, 0);
        cr_assert_eq(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC("wake"), RD_KAFKA_V_VALUE("x", 1),
                                       RD_KAFKA_V_END),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
        /* a wait with no signal would last 30 s; another event on the
         * queue may wake one first, so wait until the report is served */
        int64_t t0 = sq_mono_ms();
        while (reports < round && sq_mono_ms() - t0 < 20000) {
            sq_wake_wait(w, 30000);
            rd_kafka_poll(rk, 0);
        }
        int64_t took = sq_mono_ms() - t0;
        cr_assert_eq(reports, round, "round %d: %d reports served after %lld ms", round, reports,
                     (long long)took);
        cr_assert_lt(took, 20000, "round %d: the report came without a signal (%lld ms)", round,
                     (long long)took);
    }
    rd_kafka_destroy(rk);
    sq_wake_free(w);
}
