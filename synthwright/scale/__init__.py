"""Scale-out: the executor's batches on a pool of Ray actors, each holding one engine."""

from synthwright.scale.ray_pool import RayConfig, RayEnginePool

__all__ = ["RayConfig", "RayEnginePool"]
