"""Published survival estimates the churn-survival tests compare with, and the data they were computed on.

Rossi recidivism data (``rossi.csv`` beside this file): 432 men released from Maryland state prisons in the
1970s, followed for one year; ``week`` of first arrest (52 if none), ``arrest`` (114 arrests), ``fin``
(financial aid, randomised), ``age``, ``race`` (1 = black), ``wexp`` (full-time work experience), ``mar``
(married), ``paro`` (released on parole), ``prio`` (prior convictions). Source: Rossi, P. H., Berk, R. A. &
Lenihan, K. J. (1980). *Money, Work, and Crime: Some Experimental Results*. Academic Press; used by Allison
(1995) and by Fox & Weisberg. The file is ``lifelines/datasets/rossi.csv`` from the lifelines 0.30.3 wheel
on PyPI (MIT licence; sha256 0214400170e07f3015a285edca2014cac0dae8aac125fcbaad642490e05f892c), vendored
because installing lifelines would downgrade the project's pandas (it requires pandas < 3).

Cox model: Fox, J. & Weisberg, S. (2011). Cox proportional-hazards regression for survival data in R.
Appendix to *An R Companion to Applied Regression*, 2nd ed. (updated 2018 for the 3rd ed.):
``coxph(Surv(week, arrest) ~ fin + age + race + wexp + mar + paro + prio, data = Rossi)`` (R's default
Efron ties) gives the coefficients below, quoted to three significant digits; tolerance half a unit of the
last digit quoted.

Kaplan-Meier: the 6-mercaptopurine remission data (Freireich, E. J. et al. 1963, *Blood* 21, 699-716;
Gehan 1965): remission in weeks of 21 leukaemia patients on 6-MP (``+`` censored) and 21 on placebo. The
product-limit table of Kleinbaum, D. G. & Klein, M. (2012). *Survival Analysis: A Self-Learning Text*, 3rd
ed., Springer, chapter 2 (group 1, treatment; group 2, placebo), printed to three decimals; tolerance 5e-4.
"""

from __future__ import annotations

from pathlib import Path

ROSSI_CSV = Path(__file__).with_name("rossi.csv")
ROSSI_ROWS = 432
ROSSI_ARRESTS = 114

FOX_WEISBERG_ROSSI_COX = {
    # covariate: (coefficient as published, tolerance)
    "fin": (-0.379, 5e-4),
    "age": (-0.0574, 5e-5),
    "race": (0.314, 5e-4),
    "wexp": (-0.150, 5e-4),
    "mar": (-0.434, 5e-4),
    "paro": (-0.0849, 5e-5),
    "prio": (0.0915, 5e-5),
}

# (weeks, relapsed): relapsed 0 marks a censored time ("6+").
REMISSION_6MP = [(t, 1) for t in (6, 6, 6, 7, 10, 13, 16, 22, 23)] + [
    (t, 0) for t in (6, 9, 10, 11, 17, 19, 20, 25, 32, 32, 34, 35)
]
REMISSION_PLACEBO = [(t, 1) for t in (1, 1, 2, 2, 3, 4, 4, 5, 5, 8, 8, 8, 8, 11, 11, 12, 12, 15, 17, 22, 23)]

# event time -> (number at risk, Kaplan-Meier survival) as printed.
KLEINBAUM_KLEIN_6MP = {
    6: (21, 0.857),
    7: (17, 0.807),
    10: (15, 0.753),
    13: (12, 0.690),
    16: (11, 0.627),
    22: (7, 0.538),
    23: (6, 0.448),
}
KLEINBAUM_KLEIN_PLACEBO = {
    1: (21, 0.905),
    2: (19, 0.810),
    3: (17, 0.762),
    4: (16, 0.667),
    5: (14, 0.571),
    8: (12, 0.381),
    11: (8, 0.286),
    12: (6, 0.190),
    15: (4, 0.143),
    17: (3, 0.095),
    22: (2, 0.048),
    23: (1, 0.000),
}
KM_TOL = 5e-4
