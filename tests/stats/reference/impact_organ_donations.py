"""Published two-way fixed-effects difference-in-differences on the organ-donation panel.

Data: Kessler, J. B. & Roth, A. E. (2014). Don't take 'no' for an answer: an experiment with actual organ
donor registrations. NBER Working Paper 20378. Quarterly organ-donor registration rates of 27 US states,
Q4 2010 to Q1 2012 (162 rows); California switched to "active choice" from Q3 2011 (``Quarter_Num`` >= 4),
the 26 other states did not. Shipped by the ``causaldata`` PyPI package (0.1.5, MIT;
``causaldata.organ_donations``), the data sets of Huntington-Klein, N. (2021), *The Effect*, chapter 18.

Published numbers: pyfixest's documentation, "Replicating Examples from *The Effect*" (run with causaldata
0.1.5 and pyfixest 0.40.1), chapter 18:

- Example 1, ``feols("Rate ~ Treated | State + Quarter")`` with iid errors: Treated -0.022, standard error
  0.020, t -1.096, p 0.275 (printed to 3 decimals).
- Example 3, the event study ``i(Quarter_Num, California, ref=3) | State + Quarter_Num``: coefficients
  -0.002942 (quarter 1), 0.006296 (2), -0.021565 (4), -0.020292 (5), -0.022165 (6) (printed to 6 decimals).

Tolerances are half a unit of the last printed digit.
"""

from __future__ import annotations

ORGAN_DONATIONS_DID = {
    "n": 162,
    "effect": -0.022,
    "effect_tol": 5e-4,
    "se_ols": 0.020,
    "se_tol": 5e-4,
    "t_ols": -1.096,
    "t_tol": 5e-4,
    "p_ols": 0.275,
    "p_tol": 5e-4,
}

# relative period (Quarter_Num - 4) -> published coefficient; the reference quarter 3 (relative -1) is 0.
ORGAN_DONATIONS_EVENT_STUDY = {
    -3: -0.002942,
    -2: 0.006296,
    0: -0.021565,
    1: -0.020292,
    2: -0.022165,
}
EVENT_STUDY_TOL = 5e-7
