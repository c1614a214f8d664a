/* faults.h: crash points for fault tests. In builds with -DSQ_FAULTS=ON,
 * SQGATE_FAULT=after_produce|after_redis_step|after_commit makes the process
 * kill itself (SIGKILL) at that point; SQGATE_FAULT_AFTER=N lets N passes go
 * by first. SQGATE_FAULT=hold_step_reply instead holds one Redis step's
 * reply on the step thread for SQGATE_FAULT_HOLD_MS, or until the file
 * SQGATE_FAULT_RELEASE_FILE exists (the step has applied; the main thread
 * learns it that much later), so tests can revoke partitions while a step
 * is in flight. SQGATE_FAULT=stall_partition pauses the assigned partition
 * SQGATE_FAULT_TOPIC / SQGATE_FAULT_PARTITION inside librdkafka only, as if
 * its fetch never started, so tests can check that the stall is found and
 * mended; SQGATE_FAULT=wedge_partition also leaves the stall check's first
 * restart (resume and seek) undone, so only its re-assignment mends it
 * (the flag sq_part.wedged_by_fault, gateway/runtime.c).
 * SQGATE_FAULT=no_periodic_fold keeps the closer from folding the KPI
 * journal once a second, so that only an instance's fold on its way out
 * does (gateway/closer.c).
 * Other builds compile the points away. */
#ifndef SQ_FAULTS_H
#define SQ_FAULTS_H

#ifdef SQ_FAULTS
void sq_fault_point(const char *name);
void sq_fault_hold(const char *name);
#include <stdbool.h>
#include <stdint.h>
bool sq_fault_partition(const char *name, const char *topic, int32_t partition);
bool sq_fault_named(const char *name);
#define SQ_FAULT(name) sq_fault_point(name)
#define SQ_FAULT_HOLD(name) sq_fault_hold(name)
/* Whether SQGATE_FAULT names the point `name`, SQGATE_FAULT_TOPIC this
 * partition's topic and SQGATE_FAULT_PARTITION (unset: any) this
 * partition, after SQGATE_FAULT_AFTER such assignments (true once). */
#define SQ_FAULT_PARTITION(name, topic, partition) sq_fault_partition(name, topic, partition)
/* Whether SQGATE_FAULT names the point `name` (every time). */
#define SQ_FAULT_NAMED(name) sq_fault_named(name)
#else
#define SQ_FAULT(name) ((void)0)
#define SQ_FAULT_HOLD(name) ((void)0)
#define SQ_FAULT_PARTITION(name, topic, partition) ((void)(topic), (void)(partition), 0)
#define SQ_FAULT_NAMED(name) 0
#endif

#endif
