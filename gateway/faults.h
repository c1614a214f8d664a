/* faults.h: crash points for fault tests. In builds with -DSQ_FAULTS=ON,
 * SQGATE_FAULT=after_produce|after_redis_step|after_commit makes the process
 * kill itself (SIGKILL) at that point; SQGATE_FAULT_AFTER=N lets N passes go
 * by first. Other builds compile the points away. */
#ifndef SQ_FAULTS_H
#define SQ_FAULTS_H

#ifdef SQ_FAULTS
void sq_fault_point(const char *name);
#define SQ_FAULT(name) sq_fault_point(name)
#else
#define SQ_FAULT(name) ((void)0)
#endif

#endif
