"""Where a model's parts live: dtypes, device maps, and the tensors behind offloaded weights.

A model is either placed whole on one device, or *dispatched* by a device map (module name → device) with
accelerate's hooks: each listed module runs on its device, and inputs move to it. As in accelerate, when a map
names a GPU, its ``"cpu"`` entries are *offloaded*: their weights stay in CPU memory and are copied to the main
GPU for each forward pass, while the module's parameters become empty ``meta`` tensors. Editing writes into the
CPU copy (:func:`weight_tensor`), so the next forward pass uses the edited weights.

Conventions every reader of activations follows (a model is never assumed to sit on one device):

* inputs (token ids, masks) go to :func:`input_device` (where the embedding runs);
* a tensor read at a module is on that module's execution device; editing code moves what it gathers to
  :func:`input_device` before combining it, and a hook moves what it adds to the tensor it patches.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch

from .errors import ModelError

DTYPES: dict[str, torch.dtype] = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
DeviceMap = Mapping[str, "str | int | torch.device"]


def resolve_dtype(dtype: str | torch.dtype | None) -> torch.dtype:
    """``None`` → float32 (the default, unchanged); a name from :data:`DTYPES` or one of their torch dtypes."""
    if dtype is None:
        return torch.float32
    if isinstance(dtype, torch.dtype) and dtype in DTYPES.values():
        return dtype
    if isinstance(dtype, str) and dtype in DTYPES:
        return DTYPES[dtype]
    raise ModelError(f"{dtype!r} is not a supported dtype", hint=f"use one of {', '.join(DTYPES)}")


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype editing arithmetic uses for weights of ``dtype``: float32, or ``dtype`` itself when wider."""
    return torch.promote_types(dtype, torch.float32)


def _device_name(device: str | int | torch.device) -> str:
    """A map value as a device string (``0`` → ``cuda:0``), validated against this machine."""
    if isinstance(device, int) and not isinstance(device, bool):
        device = f"cuda:{device}"
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ModelError(f"device map value {device!r} is not a torch device", hint="use cpu, cuda:N or N") from None
    if dev.type == "cuda":
        index = 0 if dev.index is None else dev.index
        if index >= torch.cuda.device_count():
            raise ModelError(f"device map names {device!r} but this machine has {torch.cuda.device_count()} CUDA "
                             "device(s)", hint="name devices that exist, or use cpu")
        return f"cuda:{index}"
    if dev.type != "cpu":
        raise ModelError(f"device map value {device!r} is not supported", hint="use cpu, cuda:N or N")
    return "cpu"


def dispatch(
    model: torch.nn.Module,
    device_map: DeviceMap,
    *,
    main_device: str | None = None,
    offload_cpu: bool | None = None,
) -> torch.nn.Module:
    """Place ``model`` by ``device_map`` with accelerate's hooks (in place; returns the model).

    ``main_device`` (default: the first GPU of the map, else cpu) runs whatever the map does not name and every
    offloaded module. ``"cpu"`` entries are offloaded when ``offload_cpu`` (default: when the main device is a
    GPU, as accelerate's ``dispatch_model`` does); ``offload_cpu=True`` on a CPU-only machine runs the same
    offload machinery with the CPU as execution device (what the tests and ``scripts/device_check.py`` use there).
    Every parameter must be covered by the map (accelerate's ``check_device_map``).
    """
    from accelerate.hooks import attach_align_device_hook_on_blocks
    from accelerate.utils import (
        OffloadedWeightsLoader,
        check_device_map,
        extract_submodules_state_dict,
        find_tied_parameters,
        retie_parameters,
    )

    names = {name: _device_name(device) for name, device in device_map.items()}
    unknown = [n for n in names if n and n not in dict(model.named_modules())]
    if unknown:
        raise ModelError(f"device map names modules this model lacks: {unknown[:3]}",
                         hint="use module names from model.named_modules()")
    try:
        check_device_map(model, names)
    except ValueError as exc:
        raise ModelError(f"device map incomplete: {' '.join(str(exc).split())[:300]}",
                         hint="name a device for every module that holds parameters") from None
    main = _device_name(main_device) if main_device else next((d for d in names.values() if d != "cpu"), "cpu")
    offload_cpu = main != "cpu" if offload_cpu is None else offload_cpu
    offload = {name: offload_cpu and device == "cpu" for name, device in names.items()}
    execution: dict[str, Any] = {name: main if offload[name] else device for name, device in names.items()}
    execution.setdefault("", main)
    offloaded = [name for name, yes in offload.items() if yes]
    weights_map = None
    if offloaded:  # the CPU copies the hooks load from: the model's own tensors, kept in memory (never on disk)
        weights_map = OffloadedWeightsLoader(state_dict=extract_submodules_state_dict(model.state_dict(), offloaded))

    def covered(tensor_name: str) -> bool:
        return any(k == "" or tensor_name == k or tensor_name.startswith(k + ".") for k in names)

    for module_name, module in model.named_modules():  # buffers no map entry names (rotary tables): main device
        for buffer_name, buffer in list(module.named_buffers(recurse=False)):
            if buffer is not None and not covered(f"{module_name}.{buffer_name}".lstrip(".")):
                module._buffers[buffer_name] = buffer.to(main)
    tied = find_tied_parameters(model)
    tied_map = {model.get_parameter(n).data_ptr(): {} for group in tied for n in group
                if model.get_parameter(n).device.type != "meta"}
    attach_align_device_hook_on_blocks(model, execution_device=execution, offload=offload, weights_map=weights_map,
                                       tied_params_map=tied_map)
    retie_parameters(model, tied)
    model.hf_device_map = dict(names)  # transformers' attribute: generate() and others read it
    return model


def explicit_map(model: torch.nn.Module, layer_device: Callable[[int], str | int],
                 rest: str | int = "cpu") -> dict[str, str | int]:
    """A device map naming each transformer layer (``layer_device(index)``) and every other module that holds
    weights (``rest``: embeddings, final norm, head) explicitly, in the order of the model's state dict."""
    from .architectures import architecture_of

    arch = architecture_of(model)
    prefix = arch.layers + "."
    out: dict[str, str | int] = {}
    for name in model.state_dict():
        if name.startswith(prefix):
            index = int(name[len(prefix):].split(".")[0])
            out.setdefault(arch.layer(index), layer_device(index))
        else:
            out.setdefault(name.rsplit(".", 1)[0], rest)
    return out


def auto_device_map(model: torch.nn.Module, dtype: torch.dtype) -> dict[str, str | int]:
    """accelerate's balanced map of ``model`` over the visible GPUs (the rest offloaded to the CPU)."""
    from accelerate import infer_auto_device_map
    from accelerate.utils import get_balanced_memory

    no_split = list(getattr(model, "_no_split_modules", None) or [])
    memory = get_balanced_memory(model, dtype=dtype, no_split_module_classes=no_split)
    return infer_auto_device_map(model, max_memory=memory, no_split_module_classes=no_split, dtype=dtype)


def is_dispatched(model: torch.nn.Module) -> bool:
    """True when accelerate's hooks place the model (a device map was applied)."""
    return any(hasattr(m, "_hf_hook") for m in model.modules())


def _hook_device(module: torch.nn.Module) -> torch.device | None:
    hook = getattr(module, "_hf_hook", None)
    for h in getattr(hook, "hooks", None) or ([hook] if hook is not None else []):
        device = getattr(h, "execution_device", None)
        if device is not None:
            return torch.device(f"cuda:{device}" if isinstance(device, int) else device)
    return None


def execution_device(module: torch.nn.Module) -> torch.device:
    """The device ``module`` computes on: its accelerate hook's execution device, else its first real tensor's."""
    for m in module.modules():
        device = _hook_device(m)
        if device is not None:
            return device
    for tensor in (*module.parameters(), *module.buffers()):
        if tensor.device.type != "meta":
            return tensor.device
    return torch.device("cpu")


def input_device(model: torch.nn.Module) -> torch.device:
    """Where token ids go: the execution device of the input embedding (the first parameter's device when the
    model has no input embedding to ask)."""
    try:
        embedding = model.get_input_embeddings()
    except (AttributeError, NotImplementedError):
        embedding = None
    if embedding is not None:
        device = _hook_device(embedding)
        if device is not None:
            return device
        weight = getattr(embedding, "weight", None)
        if weight is not None and weight.device.type != "meta":
            return weight.device
    return execution_device(model)


def weight_tensor(model: torch.nn.Module, name: str) -> torch.Tensor:
    """The tensor that holds parameter ``name``'s values: the parameter itself, or for an offloaded module the
    CPU copy its accelerate hook loads at every forward pass (writing into it edits the model)."""
    try:
        param = model.get_parameter(name)
    except AttributeError:  # a buffer (state_dict names both)
        param = model.get_buffer(name)
    if param.device.type != "meta":
        return param
    parts = name.split(".")
    for cut in range(len(parts) - 1, -1, -1):
        module = model.get_submodule(".".join(parts[:cut]))
        hook = getattr(module, "_hf_hook", None)
        for h in getattr(hook, "hooks", None) or ([hook] if hook is not None else []):
            weights = getattr(h, "weights_map", None)
            if weights is None:
                continue
            key = ".".join(parts[cut:])
            store = getattr(weights, "dataset", weights)
            full = getattr(weights, "prefix", "") + key
            if isinstance(getattr(store, "state_dict", None), dict) and full in store.state_dict:
                return store.state_dict[full]
            raise ModelError(f"weight {name} is offloaded to disk, where edits would not persist",
                             hint="offload to the CPU instead (a device map with cpu entries), or place it on a GPU")
    raise ModelError(f"weight {name} has no values (meta tensor without an offload hook)",
                     hint="load the model with load_model, which keeps offloaded weights in CPU memory")


def state_tensors(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """``model.state_dict()`` with every offloaded entry replaced by the CPU copy that holds its values (the same
    tensors as ``state_dict()`` for a model that is not offloaded)."""
    return {name: weight_tensor(model, name) if t.device.type == "meta" else t
            for name, t in model.state_dict().items()}


def is_offloaded(model: torch.nn.Module, name: str) -> bool:
    """True when parameter ``name`` lives in an offloaded CPU copy (it cannot be trained by autograd)."""
    return model.get_parameter(name).device.type == "meta"
