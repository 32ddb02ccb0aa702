"""Customer-base models: who is still a customer, what they will buy and spend, and what they are worth.

Non-contractual (purchases with no visible churn): :class:`BetaGeo` (BG/NBD) forecasts purchases and
P(alive); :class:`GammaGamma` forecasts spend per purchase and combines both into CLV. Contractual
(subscriptions with observed cancellation): :class:`ShiftedBetaGeometric` projects retention and values
the base (DERL). All are fitted by maximum likelihood on compressed sufficient statistics, with standard
errors from the observed information, and are checked against the papers' published numbers.
"""

from cxloop.stats.clv._estimation import ConvergenceError
from cxloop.stats.clv.beta_geo import BetaGeo
from cxloop.stats.clv.gamma_gamma import PERIODS_PER_MONTH, GammaGamma, TransactionModel
from cxloop.stats.clv.shifted_beta_geometric import ShiftedBetaGeometric

__all__ = [
    "PERIODS_PER_MONTH",
    "BetaGeo",
    "ConvergenceError",
    "GammaGamma",
    "ShiftedBetaGeometric",
    "TransactionModel",
]
