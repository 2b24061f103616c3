"""Which librdkafka errors mean "wait and ask again" and which mean "this name does not exist"."""

from __future__ import annotations

from confluent_kafka import KafkaError as CKafkaError

from airflow_provider_rtp.exceptions import KafkaError

__all__ = ["is_transient_kafka_error"]

# librdkafka error codes of a cluster that is (re)starting or unreachable.
_TRANSIENT_KAFKA_CODES = {
    CKafkaError._TRANSPORT,
    CKafkaError._TIMED_OUT,
    CKafkaError._ALL_BROKERS_DOWN,
    CKafkaError._WAIT_COORD,
    CKafkaError.REQUEST_TIMED_OUT,
    CKafkaError.LEADER_NOT_AVAILABLE,
    CKafkaError.NOT_LEADER_FOR_PARTITION,
    CKafkaError.COORDINATOR_NOT_AVAILABLE,
    CKafkaError.COORDINATOR_LOAD_IN_PROGRESS,
    CKafkaError.NOT_COORDINATOR,
    CKafkaError.NETWORK_EXCEPTION,
    # Leadership moving between brokers (a broker restarting): the client asks again.
    CKafkaError.UNKNOWN_LEADER_EPOCH,
    CKafkaError.FENCED_LEADER_EPOCH,
    CKafkaError.OFFSET_NOT_AVAILABLE,
    CKafkaError.BROKER_NOT_AVAILABLE,
    CKafkaError.REPLICA_NOT_AVAILABLE,
    CKafkaError.NOT_CONTROLLER,
    CKafkaError.KAFKA_STORAGE_ERROR,
}
# Names that do not exist: never waited for, even when librdkafka flags them retriable.
_MISSING_KAFKA_CODES = {
    CKafkaError.UNKNOWN_TOPIC_OR_PART,
    CKafkaError._UNKNOWN_TOPIC,
    CKafkaError._UNKNOWN_PARTITION,
    CKafkaError.GROUP_ID_NOT_FOUND,
}


def is_transient_kafka_error(exc: KafkaError) -> bool:
    """A cluster (re)starting or unreachable, judged by the librdkafka error kept as the cause."""
    cause = exc.__cause__
    if cause is None or not cause.args:
        return False
    err = cause.args[0]
    if not hasattr(err, "code"):
        return False
    code = err.code()
    return code in _TRANSIENT_KAFKA_CODES or (code not in _MISSING_KAFKA_CODES and bool(err.retriable()))
