#!/usr/bin/env bash
# create-topics.sh: creates sqgate's topics on a real Kafka cluster (sqgate
# never creates topics). Usage: deploy/create-topics.sh BOOTSTRAP [PARTITIONS] [REPLICATION]
set -euo pipefail
bs=${1:?bootstrap servers}; parts=${2:-12}; rf=${3:-3}
kt=${KAFKA_TOPICS:-kafka-topics.sh}
for t in sq.in.contacts sq.in.tickets sq.in.surveys sq.in.qa sq.in.outages \
         sq.out.scored sq.out.breaches sq.out.alerts sq.out.dlq; do
  "$kt" --bootstrap-server "$bs" --create --if-not-exists --topic "$t" --partitions "$parts" --replication-factor "$rf"
done
# Compacted: profiles (keyed by customer id) and KPI upserts.
for t in sq.in.profiles sq.out.kpi; do
  "$kt" --bootstrap-server "$bs" --create --if-not-exists --topic "$t" --partitions "$parts" \
    --replication-factor "$rf" --config cleanup.policy=compact
done
