"""nbs_lib: the shared library of the executable book on how wide neural networks train.

Core modules (flat, used by every chapter): ``context`` (the run context), ``experiment`` (the config
contract), ``registry`` (claim criteria and the judge), ``claims`` (claim records), ``prose`` (numbers
glued into pages), ``explorer`` and ``widgets`` (slider panels), ``bench`` (the timing harness),
``device``, ``profiles``, ``validate``, ``kernels`` (arc-cosine kernels, κ(θ), the two-layer ReLU NTK/CK),
``ntk`` (empirical NTK by autograd), ``optim`` (the GD/NAG loop and blow-up rule), ``fit`` (rates, power
laws), ``plotting``, ``data`` (loaders and stand-ins), ``fetch`` (verified downloads), ``gpu`` (Triton
backend choice), ``primer`` (the primer's experiments). One package per paper, imported by name, each with
its experiments, plots, Triton kernels and claim registry: ``unbalanced`` (000), ``linfeat`` (001),
``population`` (002), ``subquad`` (003), ``gated`` (004).
"""
from . import (bench, claims, context, data, device, experiment, explorer, fit, kernels, ntk, optim, plotting,
               profiles, prose, registry, validate, widgets)
from .context import RunContext, run_context
from .experiment import Config, Resources
from .claims import grade, record
from .device import resolve_device, resolve_dtype, setup
from .fit import fit_linear_rate, fit_power_law
from .kernels import arccos_kernel, arccos_kernel_mc, arccos_of_cosine, relu_ntk_limit
from .ntk import empirical_ntk
from .optim import DivergenceError, RunResult, first_index, gd, nag, nag_momentum
from .profiles import PROFILES, check_profile, sizes

__all__ = [
    "bench", "context", "experiment", "explorer", "prose", "registry", "RunContext", "run_context", "Config", "Resources",
    "first_index", "claims", "data", "device", "fit", "kernels", "ntk", "optim", "plotting", "profiles", "validate", "widgets",
    "grade", "record", "resolve_device", "resolve_dtype", "setup", "fit_linear_rate", "fit_power_law",
    "arccos_kernel", "arccos_kernel_mc", "arccos_of_cosine", "relu_ntk_limit", "empirical_ntk", "DivergenceError", "RunResult",
    "gd", "nag", "nag_momentum", "PROFILES", "check_profile", "sizes",
]
