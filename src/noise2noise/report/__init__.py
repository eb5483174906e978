"""Reproducing the report: its experiments as cached cells, and RESULTS.md.

``spec`` (what the experiments consist of: data only), ``budget`` (every configuration
the results depend on), ``reproduction`` (a folder: budget, images, trained networks,
the denoiser behind each row), ``experiments`` (Table 1, convergence, sensitivity,
figures, and :func:`reproduce`), ``verify`` (recompute a sample of cached cells),
``results_md`` and ``plots`` (the report, made only from the files), ``records`` (runs,
environment, progress).
"""

from .budget import BUDGETS, Budget, budget_for, quick_budget
from .experiments import reproduce
from .records import typed_command
from .reproduction import Reproduction
from .spec import EXPERIMENTS, REPORT_TABLE1, VERIFY_TOLERANCE
from .verify import VerifiedCell, verify

__all__ = [
    "EXPERIMENTS",
    "REPORT_TABLE1",
    "VERIFY_TOLERANCE",
    "Budget",
    "BUDGETS",
    "budget_for",
    "quick_budget",
    "Reproduction",
    "reproduce",
    "verify",
    "typed_command",
    "VerifiedCell",
]
