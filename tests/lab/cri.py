"""A minimal CRI client: the kubelet's PullImage call over containerd's socket, with grpcio.

No CRI protobuf package exists on PyPI and Debian 12 has no crictl, so the few messages needed are encoded
by hand (field numbers from cri-api's api.proto, k8s.io/cri-api/pkg/apis/runtime/v1):
``PullImageRequest{image: ImageSpec{image=1}=1, auth: AuthConfig{username=1, password=2}=2}``,
``PullImageResponse{image_ref=1}``, ``RemoveImageRequest{image: ImageSpec=1}``, ``VersionResponse{version=1,
runtime_name=2, runtime_version=3, runtime_api_version=4}``.
"""

from __future__ import annotations

from dataclasses import dataclass

import grpc

SERVICE = "runtime.v1"

# grpc.StatusCode name -> the Go codes.Code String() the kubelet sees (google.golang.org/grpc/codes)
GO_CODE_NAMES = {
    "OK": "OK", "CANCELLED": "Canceled", "UNKNOWN": "Unknown", "INVALID_ARGUMENT": "InvalidArgument",
    "DEADLINE_EXCEEDED": "DeadlineExceeded", "NOT_FOUND": "NotFound", "ALREADY_EXISTS": "AlreadyExists",
    "PERMISSION_DENIED": "PermissionDenied", "RESOURCE_EXHAUSTED": "ResourceExhausted",
    "FAILED_PRECONDITION": "FailedPrecondition", "ABORTED": "Aborted", "OUT_OF_RANGE": "OutOfRange",
    "UNIMPLEMENTED": "Unimplemented", "INTERNAL": "Internal", "UNAVAILABLE": "Unavailable",
    "DATA_LOSS": "DataLoss", "UNAUTHENTICATED": "Unauthenticated",
}


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (wire type 2): strings and embedded messages."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def encode_pull(image: str, username: str | None = None, password: str | None = None) -> bytes:
    msg = _field(1, _field(1, image.encode()))
    if username is not None or password is not None:
        auth = b""
        if username:
            auth += _field(1, username.encode())
        if password:
            auth += _field(2, password.encode())
        msg += _field(2, auth)
    return msg


def encode_image_spec_request(image: str) -> bytes:
    return _field(1, _field(1, image.encode()))


def decode_strings(data: bytes, limit: int = 1 << 20) -> dict[int, str]:
    """Top-level length-delimited fields of a message as strings (other wire types are skipped)."""
    fields: dict[int, str] = {}
    i = 0
    data = data[:limit]
    while i < len(data):
        key, i = _read_varint(data, i)
        number, wire = key >> 3, key & 7
        if wire == 2:
            length, i = _read_varint(data, i)
            fields[number] = data[i:i + length].decode("utf-8", "replace")
            i += length
        elif wire == 0:
            _, i = _read_varint(data, i)
        elif wire == 1:
            i += 8
        elif wire == 5:
            i += 4
        else:
            break
    return fields


def _read_varint(data: bytes, i: int) -> tuple[int, int]:
    shift = result = 0
    for _ in range(10):
        if i >= len(data):
            break
        byte = data[i]
        i += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            break
        shift += 7
    return result, i


@dataclass(frozen=True)
class RpcFailure:
    code: str      # Go code name, e.g. "NotFound"
    desc: str

    @property
    def raw(self) -> str:
        """The error as a Go gRPC client prints it (status.Error's Error())."""
        return f"rpc error: code = {self.code} desc = {self.desc}"


class CriClient:
    """Unary CRI calls on one unix-socket channel; every call has a deadline."""

    def __init__(self, socket_path: str) -> None:
        self._channel = grpc.insecure_channel(f"unix://{socket_path}")

    def _call(self, method: str, request: bytes, timeout: float) -> bytes:
        stub = self._channel.unary_unary(method)
        return stub(request, timeout=timeout)

    def version(self, timeout: float = 2.0) -> dict[int, str]:
        return decode_strings(self._call(f"/{SERVICE}.RuntimeService/Version", b"", timeout))

    def pull(self, image: str, username: str | None, password: str | None, timeout: float) -> str:
        """Image ref (digest) on success; raises ``grpc.RpcError`` as the runtime answered."""
        reply = self._call(f"/{SERVICE}.ImageService/PullImage", encode_pull(image, username, password), timeout)
        return decode_strings(reply).get(1, "")

    def remove(self, image: str, timeout: float = 10.0) -> None:
        self._call(f"/{SERVICE}.ImageService/RemoveImage", encode_image_spec_request(image), timeout)

    def close(self) -> None:
        self._channel.close()


def failure_of(err: grpc.RpcError) -> RpcFailure:
    """Translate a grpcio error into the Go client's view. A client-side deadline becomes what a Go
    client (the kubelet's cri-client) builds from its context: ``context deadline exceeded``."""
    code = err.code()  # type: ignore[attr-defined]
    name = GO_CODE_NAMES.get(code.name, code.name.title())
    desc = err.details() or ""  # type: ignore[attr-defined]
    if code == grpc.StatusCode.DEADLINE_EXCEEDED and desc == "Deadline Exceeded":
        desc = "context deadline exceeded"
    return RpcFailure(name, desc)
