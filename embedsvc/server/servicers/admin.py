"""AdminService: operating a running server (backups)."""

from __future__ import annotations

from pathlib import Path

from embedsvc import convert
from embedsvc.core import Core
from embedsvc.errors import InvalidArgument
from embedsvc.server.rpc import ServiceSpec, rpc
from embedsvc.v1 import admin_pb2, admin_pb2_grpc


class AdminServicer(admin_pb2_grpc.AdminServiceServicer):
    def __init__(self, core: Core) -> None:
        self.core = core

    @rpc
    def Backup(self, request, context):  # noqa: N802
        if not request.directory:
            raise InvalidArgument("directory is empty; give an absolute path on the server",
                                  "directory")
        return convert.backup_out(self.core.backup(Path(request.directory)))


SERVICE = ServiceSpec(
    admin_pb2.DESCRIPTOR.services_by_name["AdminService"].full_name,
    admin_pb2_grpc.add_AdminServiceServicer_to_server,
    AdminServicer,
)
