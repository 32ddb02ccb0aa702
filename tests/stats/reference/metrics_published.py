"""Published numbers for the CX metric statistics (NPS, shares, means, multiple testing).

Each case records where the numbers were printed and the tolerance the test allows. Tolerances are
half a unit of the last printed digit unless said otherwise: the source rounds, we do not.
"""

from __future__ import annotations

# --- Wilson score interval for a single proportion --------------------------------------------
# Newcombe, R. G. (1998). Two-sided confidence intervals for the single proportion: comparison of
# seven methods. Statistics in Medicine 17, 857-872. Table I, method 3 (score interval without
# continuity correction), 95%. Printed to 4 decimals -> tolerance 5e-5.
WILSON_NEWCOMBE_1998 = [
    # (successes, n, low, high)
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0000, 0.1611),
    (1, 29, 0.0061, 0.1718),
]
WILSON_TOL = 5e-5

# --- Newcombe hybrid score interval for a difference of two independent proportions ------------
# Newcombe, R. G. (1998). Interval estimation for the difference between independent proportions:
# comparison of eleven methods. Statistics in Medicine 17, 873-890. Table II, method 10 (score
# interval without continuity correction), 95%. Printed to 4 decimals -> tolerance 5e-5.
NEWCOMBE_DIFFERENCE_1998 = [
    # (x_a, n_a, x_b, n_b, low, high)
    (56, 70, 48, 80, 0.0524, 0.3339),
    (9, 10, 3, 10, 0.1705, 0.8090),
]
NEWCOMBE_DIFFERENCE_TOL = 5e-5

# Fagerland, M. W., Lydersen, S. & Laake, P. (2015). Recommended confidence intervals for two
# independent binomial proportions. Statistical Methods in Medical Research 24(2), 224-254.
# Example 7/34 vs 1/34, Newcombe hybrid score interval 0.019 to 0.34 (as reproduced in
# statsmodels' test_proportion.py). Printed to 2-3 decimals -> tolerance 5e-3.
FAGERLAND_2015_NEWCOMBE = (7, 34, 1, 34, 0.019, 0.340)
FAGERLAND_TOL = 5e-3

# --- Student t interval and Welch test ---------------------------------------------------------
# Student (1908), The probable error of a mean, Biometrika 6, 1-25: the Cushny & Peebles sleep data
# (extra hours of sleep, 10 patients, two drugs), shipped with R as `sleep`. R's documented output:
#   t.test(extra ~ group, data = sleep)  (Welch):
#     t = -1.8608, df = 17.776, p-value = 0.07939, 95% CI -3.3654832 0.2054832,
#     means 0.75 and 2.33
#   t.test(extra ~ group, data = sleep, paired = TRUE):
#     t = -4.0621, df = 9, p-value = 0.002833, 95% CI -2.4598858 -0.7001142, mean difference -1.58
#   (group 1 - group 2). The tests take the differences group 2 - group 1, so the signs flip.
SLEEP_GROUP_1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
SLEEP_GROUP_2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]
SLEEP_WELCH = {
    "t": -1.8608,  # tolerance 5e-5
    "df": 17.776,  # tolerance 5e-4
    "p_value": 0.07939,  # tolerance 5e-6
    "ci": (-3.3654832, 0.2054832),  # tolerance 5e-8
    "means": (0.75, 2.33),
}
SLEEP_PAIRED_MEAN = {
    "mean": 1.58,
    "ci": (0.7001142, 2.4598858),  # tolerance 5e-8
    "t": 4.0621,  # tolerance 5e-5
    "p_value": 0.002833,  # tolerance 5e-7
}

# --- Benjamini-Hochberg -------------------------------------------------------------------------
# Benjamini, Y. & Hochberg, Y. (1995). Controlling the false discovery rate. JRSS B 57, 289-300,
# section 4: the 15 p-values of the multicentre myocardial-infarction trial (Neuhaus et al. 1992).
# At q = 0.05 the step-up procedure rejects the 4 smallest (p <= 0.0095); Bonferroni only 3.
BH_1995_P_VALUES = [
    0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344,
    0.0459, 0.3240, 0.4262, 0.5719, 0.6528, 0.7590, 1.0000,
]  # fmt: skip
BH_1995_REJECTED = 4
BH_1995_BONFERRONI_REJECTED = 3

# --- NPS variance and standard error ------------------------------------------------------------
# whuber, answer to "How can I calculate margin of error in a NPS (Net Promoter Score) result?",
# Cross Validated (stats.stackexchange.com, question 18603, 2011): a population of 1/2 promoters,
# 1/3 passives and 1/6 detractors has NPS 1/3, variance 5/9 per response, standard deviation
# "about 0.75", and a sample of n = 324 has standard error "about 4.1%" (points of NPS).
WHUBER_NPS = {
    "shares": (1 / 6, 1 / 3, 1 / 2),  # detractors, passives, promoters
    "nps": 100 / 3,
    "variance": 5 / 9,
    "sd": 0.75,  # printed to 2 decimals -> tolerance 5e-3
    "n": 324,
    "se_points": 4.1,  # printed to 1 decimal -> tolerance 0.05
}

# Rocks, B. R package `NPS` (CRAN / github brendan-r/NPS), `nps_test(..., test = "adjusted.wald",
# pseudo_observations = c(0.75, 1.5, 0.75))`: the adjusted Wald interval of Rocks (2016) adds
# these pseudo-observations (detractors, passives, promoters) before a Wald interval is built;
# Lewis & Sauro (2021, MeasuringU) state it as "add 3 to n and 3/4 to detractors and promoters".
ROCKS_PSEUDO_OBSERVATIONS = (0.75, 1.5, 0.75)
