"""Hostile input: random and oversized Control requests and worker frames
get clear statuses; the master stays up and loses nothing it stored."""

from __future__ import annotations

import grpc
from google.protobuf import descriptor as d
from google.protobuf import message_factory
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hiscrm.v1 import common_pb2, control_pb2, gateway_pb2, gateway_pb2_grpc
from tests.delivery_helpers import create, items_total, synthetic_spec
from tests.harness import Cluster, wait_for

# INTERNAL (an unexpected exception, answered with an incident id by
# master/errors.py) and UNKNOWN (one that escaped it) are bugs, never allowed.
ALLOWED = {
    grpc.StatusCode.OK,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.ALREADY_EXISTS,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.ABORTED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.OUT_OF_RANGE,
}
# Methods that act on processes or block: fuzzed elsewhere or not at all.
SKIP = {
    "WatchEvents",
    "TailWorkerLog",
    "StartLogin",
    "StopWorker",
    "RestartWorker",
    "StartWorker",
    "ScaleWorkers",
}
CONTROL = control_pb2.DESCRIPTOR.services_by_name["Control"]

_scalar = {
    d.FieldDescriptor.TYPE_STRING: st.one_of(st.text(max_size=40), st.just("x" * 70_000)),
    d.FieldDescriptor.TYPE_BYTES: st.binary(max_size=64),
    d.FieldDescriptor.TYPE_BOOL: st.booleans(),
    d.FieldDescriptor.TYPE_INT32: st.integers(-(2**31), 2**31 - 1),
    d.FieldDescriptor.TYPE_INT64: st.integers(-(2**63), 2**63 - 1),
    d.FieldDescriptor.TYPE_UINT32: st.integers(0, 2**32 - 1),
    d.FieldDescriptor.TYPE_UINT64: st.integers(0, 2**64 - 1),
    d.FieldDescriptor.TYPE_DOUBLE: st.floats(allow_nan=True),
    d.FieldDescriptor.TYPE_ENUM: st.integers(0, 20),
}


def messages(desc: d.Descriptor, depth: int = 0) -> st.SearchStrategy:
    cls = message_factory.GetMessageClass(desc)
    fields = {}
    for field in desc.fields:
        if field.type == d.FieldDescriptor.TYPE_MESSAGE:
            if depth >= 2 or field.message_type.GetOptions().map_entry:
                continue
            inner = messages(field.message_type, depth + 1)
        elif field.type in _scalar:
            inner = _scalar[field.type]
        else:
            continue
        many = field.is_repeated
        fields[field.name] = st.lists(inner, max_size=3) if many else inner

    def build(values: dict) -> object:
        msg = cls()
        for name, value in values.items():
            try:
                if isinstance(value, list):
                    target = getattr(msg, name)
                    for v in value:
                        target.add().CopyFrom(v) if hasattr(target, "add") else target.append(v)
                elif hasattr(value, "DESCRIPTOR"):
                    getattr(msg, name).CopyFrom(value)
                else:
                    setattr(msg, name, value)
            except (ValueError, TypeError):
                continue  # e.g. a second member of a oneof
        return msg

    return st.fixed_dictionaries({}, optional=fields).map(build)


def test_random_control_requests_get_clear_statuses(cluster: Cluster) -> None:
    cluster.start_master()
    cluster.start_worker("fz-w")
    cluster.wait_worker_state("fz-w", common_pb2.WORKER_STATE_ONLINE)
    create(cluster, "fz-keep", synthetic_spec(rate=1000, total=50))
    wait_for(lambda: items_total(cluster) == 50, timeout=60, what="items to protect")
    channel = cluster.channel()
    methods = [m for m in CONTROL.methods if m.name not in SKIP]
    seen: dict[str, set[str]] = {}

    @settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        st.sampled_from(methods).flatmap(lambda m: st.tuples(st.just(m), messages(m.input_type)))
    )
    def call(case: tuple[d.MethodDescriptor, object]) -> None:
        method, request = case
        rpc = channel.unary_unary(
            f"/{CONTROL.full_name}/{method.name}",
            request_serializer=type(request).SerializeToString,
            response_deserializer=lambda b: b,
        )
        details = ""
        try:
            rpc(request, metadata=cluster.metadata(), timeout=15)
            code = grpc.StatusCode.OK
        except grpc.RpcError as exc:
            code, details = exc.code(), exc.details()
            assert details, f"{method.name}: {code} without a message"
        seen.setdefault(method.name, set()).add(code.name)
        assert code in ALLOWED, f"{method.name} answered {code} ({details}): {request!r:.300}"

    call()
    assert cluster.master is not None and cluster.master.alive()
    assert items_total(cluster) >= 50  # nothing stored was lost
    assert "DeleteAccount" in seen


def test_random_worker_frames_never_take_the_master_down(cluster: Cluster) -> None:
    """Unstructured: random frames from the first one on (most never pass
    Register); every stream ends with a clear status, never INTERNAL."""
    cluster.start_master(HISCRM_MAX_MESSAGE_BYTES="65536")
    stub = gateway_pb2_grpc.WorkerGatewayStub(cluster.channel())
    outcomes: set[str] = set()

    @settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(messages(gateway_pb2.WorkerFrame.DESCRIPTOR), min_size=1, max_size=4))
    def stream(frames: list[gateway_pb2.WorkerFrame]) -> None:
        try:
            for _ in stub.Connect(iter(frames), metadata=cluster.gateway_metadata(), timeout=5):
                pass
            outcomes.add("OK")
        except grpc.RpcError as exc:
            outcomes.add(exc.code().name)
            assert exc.code() not in (grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL), (
                exc.details()
            )

    stream()
    assert cluster.master is not None and cluster.master.alive()
    stats = cluster.call("GetStats", control_pb2.GetStatsRequest())
    assert stats.master_version
    assert sum(stats.task_failures.values()) == 0, dict(stats.task_failures)
    assert outcomes - {"OK"}, outcomes
    # no ghost: every worker the master lists registered with valid fields
    assert all(w.platforms for w in cluster.workers_by_id().values())
