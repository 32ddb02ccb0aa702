"""Published BG/NBD and Gamma-Gamma results on the CDNOW sample (plain data, with sources).

Data: the 2,357-customer CDNOW calibration sample (first purchases in Q1 1997, 39-week calibration,
T in weeks) as shipped by the ``lifetimes`` package (``load_cdnow_summary``,
``load_cdnow_summary_data_with_monetary_value``), the same file Fader, Hardie & Lee used.
"""

# Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting Your Customers" the Easy Way: An
# Alternative to the Pareto/NBD Model. Marketing Science 24(2), 275-284. Section 7 (CDNOW).
BGNBD_N_CUSTOMERS = 2357
BGNBD_PARAMS = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
BGNBD_LOG_LIKELIHOOD = -9582.4
# Published to 3 decimals (params) and 1 decimal (LL): agreement means rounding to the same digits.
BGNBD_PARAMS_DECIMALS = 3
BGNBD_LOG_LIKELIHOOD_DECIMALS = 1

# The paper's worked conditional expectation (also in Hardie's spreadsheet note for the paper):
# customer 0001 with x = 2 repeat purchases, the last at t_x = 30.43 weeks, observed for T = 38.86
# weeks, is expected to make 1.226 purchases in the next 39 weeks (eq. 10).
BGNBD_WORKED_CUSTOMER = {"frequency": 2, "recency": 30.43, "T": 38.86}
BGNBD_WORKED_HORIZON = 39.0
BGNBD_WORKED_EXPECTED_PURCHASES = 1.226
BGNBD_WORKED_DECIMALS = 3

# Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). RFM and CLV: Using Iso-Value Curves for Customer
# Base Analysis. Journal of Marketing Research 42(4), 415-430, section "The spend model", fitted to the
# 946 customers with at least one repeat purchase in the 39-week calibration period; the same numbers
# are in Fader & Hardie (2013), "The Gamma-Gamma Model of Monetary Value".
GAMMA_GAMMA_N_REPEAT_CUSTOMERS = 946
GAMMA_GAMMA_PARAMS = {"p": 6.25, "q": 3.74, "v": 15.44}
# Agreement within one unit of the last published digit: the maximum is flat along v, and the exact
# MLE (15.4478, also what lifetimes finds) rounds to 15.45 where the paper's Solver run printed 15.44.
GAMMA_GAMMA_PARAMS_TOLERANCE = 0.01
# Same paper: the mean of the observed average spends is $35.08, and the model's implied mean
# E(Z) = p v / (q - 1) "differs by a mere nine cents", i.e. $35.17.
GAMMA_GAMMA_OBSERVED_MEAN_SPEND = 35.08
GAMMA_GAMMA_IMPLIED_MEAN_SPEND = 35.17
GAMMA_GAMMA_MEAN_SPEND_DECIMALS = 2
