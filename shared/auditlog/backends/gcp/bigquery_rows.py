"""Events as Storage Write API rows: a protobuf message built from the table's schema, one field
per column in ``COLUMNS`` order, times as microseconds and dates as days since the epoch
(https://cloud.google.com/bigquery/docs/write-api#data_type_conversions)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from auditlog.model.event import COLUMNS, StoredEvent
from auditlog.schema import load_events_schema

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_DAY = date(1970, 1, 1).toordinal()
_MICROSECOND = timedelta(microseconds=1)
_FIELD = descriptor_pb2.FieldDescriptorProto
# https://cloud.google.com/bigquery/docs/write-api#data_type_conversions
_PROTO_TYPES = {
    "STRING": _FIELD.TYPE_STRING,
    "JSON": _FIELD.TYPE_STRING,
    "INT64": _FIELD.TYPE_INT64,
    "TIMESTAMP": _FIELD.TYPE_INT64,  # microseconds since the epoch
    "DATE": _FIELD.TYPE_INT32,  # days since the epoch
}


def _micros(text: str) -> int:
    return (datetime.fromisoformat(text) - _EPOCH) // _MICROSECOND


def _days(text: str) -> int:
    return date.fromisoformat(text).toordinal() - _EPOCH_DAY


def _row_message() -> tuple[descriptor_pb2.DescriptorProto, Any]:
    types = {f["name"]: f["type"] for f in load_events_schema()}
    descriptor = descriptor_pb2.DescriptorProto(name="AuditEventRow")
    for number, name in enumerate(COLUMNS, start=1):
        descriptor.field.add(
            name=name, number=number, type=_PROTO_TYPES[types[name]], label=_FIELD.LABEL_OPTIONAL
        )
    file = descriptor_pb2.FileDescriptorProto(name="auditlog_event_row.proto", syntax="proto2")
    file.message_type.add().CopyFrom(descriptor)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return descriptor, message_factory.GetMessageClass(pool.FindMessageTypeByName("AuditEventRow"))


ROW_DESCRIPTOR, _RowMessage = _row_message()
_CONVERSIONS = {
    name: _micros if kind == "TIMESTAMP" else _days if kind == "DATE" else None
    for name, kind in ((f["name"], f["type"]) for f in load_events_schema())
}


def encode(event: StoredEvent) -> bytes:
    """One event as the Storage Write API's serialized row (``ROW_DESCRIPTOR``)."""
    record = cast(Mapping[str, Any], event)
    values: dict[str, Any] = {}
    for name, convert in _CONVERSIONS.items():
        value = record[name]
        if value is not None:
            values[name] = convert(value) if convert else value
    return cast(bytes, _RowMessage(**values).SerializeToString())
