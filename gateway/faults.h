/* faults.h: crash points for fault tests. In builds with -DSQ_FAULTS=ON,
 * SQGATE_FAULT=after_produce|after_redis_step|after_commit makes the process
 * kill itself (SIGKILL) at that point; SQGATE_FAULT_AFTER=N lets N passes go
 * by first. SQGATE_FAULT=hold_step_reply instead holds one Redis step's
 * reply on the step thread for SQGATE_FAULT_HOLD_MS, or until the file
 * SQGATE_FAULT_RELEASE_FILE exists (the step has applied; the main thread
 * learns it that much later), so tests can revoke partitions while a step
 * is in flight. Other builds compile the points away. */
#ifndef SQ_FAULTS_H
#define SQ_FAULTS_H

#ifdef SQ_FAULTS
void sq_fault_point(const char *name);
void sq_fault_hold(const char *name);
#define SQ_FAULT(name) sq_fault_point(name)
#define SQ_FAULT_HOLD(name) sq_fault_hold(name)
#else
#define SQ_FAULT(name) ((void)0)
#define SQ_FAULT_HOLD(name) ((void)0)
#endif

#endif
