"""Instance and solution formats of both families: typed frozen values, load/save, validation,
compiled numpy views, and the generators of benchmark sets (:mod:`optkit.instances.generators`)."""

from optkit.instances.caching import (
    CachingInstance,
    Cloud,
    Link,
    Model,
    Request,
    Server,
    Weights,
)
from optkit.instances.common import FAMILIES, SENSE, GeneratorInfo
from optkit.instances.compiled import CompiledCaching, CompiledScheduling
from optkit.instances.io import (
    Document,
    Instance,
    from_dict,
    instance_from_dict,
    load,
    load_instance,
    load_solution,
    save,
    solution_from_dict,
    validate_file,
)
from optkit.instances.scheduling import SchedServer, SchedulingInstance, Task
from optkit.instances.solution import (
    CLOUD,
    CachingSolution,
    RequestDecision,
    SchedulingSolution,
    Solution,
    TaskDecision,
)

__all__ = [
    "CLOUD",
    "FAMILIES",
    "SENSE",
    "CachingInstance",
    "CachingSolution",
    "Cloud",
    "CompiledCaching",
    "CompiledScheduling",
    "Document",
    "GeneratorInfo",
    "Instance",
    "Link",
    "Model",
    "Request",
    "RequestDecision",
    "SchedServer",
    "SchedulingInstance",
    "SchedulingSolution",
    "Server",
    "Solution",
    "Task",
    "TaskDecision",
    "Weights",
    "from_dict",
    "instance_from_dict",
    "load",
    "load_instance",
    "load_solution",
    "save",
    "solution_from_dict",
    "validate_file",
]
