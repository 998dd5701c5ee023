"""The generated tether.v1 modules (see generate_protos.py) and the proto names this package uses.

Every reference to a generated enum value lives here, so a rename in the .proto is a change to
this file alone.
"""

from tether.v1 import config_pb2, config_pb2_grpc, status_pb2, status_pb2_grpc

MODE_FULL = config_pb2.MODE_FULL
MODE_DELTA = config_pb2.MODE_DELTA

__all__ = ["config_pb2", "config_pb2_grpc", "status_pb2", "status_pb2_grpc", "MODE_FULL",
           "MODE_DELTA"]
