"""nbs_lib: the shared library of the executable book on how wide neural networks train.

Core modules (used by every chapter): ``context`` (the run context), ``experiment`` (the config
contract), ``registry`` (claim criteria), ``prose`` (numbers pasted into pages), ``bench`` (the timing
harness), ``device``, ``profiles``, ``validate``, ``claims``, ``kernels``
(arc-cosine kernels), ``ntk`` (empirical NTK by autograd), ``optim`` (GD/NAG), ``fit`` (rates, power
laws), ``plotting``, ``widgets``, ``data``, ``gpu`` (Triton backend choice). Chapter modules hold what
belongs to one paper only and are imported by name: ``unbalanced`` (000), ``linfeat`` (001),
``population`` (002), ``sketch`` and ``subquad`` (003), ``gated`` and ``sgemm`` (004).
"""
from . import (bench, claims, context, data, device, experiment, fit, kernels, ntk, optim, plotting, profiles,
               prose, registry, validate, widgets)
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
    "bench", "context", "experiment", "prose", "registry", "RunContext", "run_context", "Config", "Resources",
    "first_index", "claims", "data", "device", "fit", "kernels", "ntk", "optim", "plotting", "profiles", "validate", "widgets",
    "grade", "record", "resolve_device", "resolve_dtype", "setup", "fit_linear_rate", "fit_power_law",
    "arccos_kernel", "arccos_kernel_mc", "arccos_of_cosine", "relu_ntk_limit", "empirical_ntk", "DivergenceError", "RunResult",
    "gd", "nag", "nag_momentum", "PROFILES", "check_profile", "sizes",
]
