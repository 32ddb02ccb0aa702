"""Published and independently computed key-driver numbers, each with its source and tolerance.

Data sets are in ``drivers_data.py``. "Checked in R" means the number was recomputed on this project's
machine with R 4.2.2 (Debian ``r-base-core``) by a short base-R script, independent of the Python code:
``lm``/``glm`` fits, and LMG as the average over all orders of entry of ``lm`` R-squared gains.
"""

# --- Shapley / LMG (Lindeman, Merenda & Gold 1980; Gromping 2006) ----------------------------------------

# relaimpo's documented example, calc.relimp(swiss, type = "lmg") (Gromping 2006, JSS 17(1), uses the
# swiss data throughout; values from relaimpo 2.2-7 on R 4.4 as recorded to 13 digits in the public test
# suite of Siamang-Labs/siamang). Checked in R: identical to 13 digits. Order: Agriculture, Examination,
# Education, Catholic, Infant.Mortality.
SWISS_LMG = {
    "source": "relaimpo 2.2-7 calc.relimp(swiss, type='lmg'); checked in R (average over orders)",
    "r2": 0.706735001593,
    "lmg": [0.0570912207681, 0.1711730289002, 0.2601346786244, 0.1055701503735, 0.1127659229265],
    "relative": [0.0807816517357, 0.2422025632160, 0.3680795178364, 0.1493772773891, 0.1595589898228],
    "tolerance": 1e-11,  # the quoted digits
}

# R's documented example for the swiss data, summary(lm(Fertility ~ ., data = swiss)): p-values of the
# t tests, which equal the incremental F tests of each driver given all others (F = t**2).
SWISS_LM_P_VALUES = {
    "source": "R datasets::swiss example, summary(lm(Fertility ~ ., swiss)); checked in R",
    "p": [1.87271543852e-02, 3.15461723144e-01, 2.43060459074e-05, 5.19007854517e-03, 7.33571532060e-03],
    "rel_tolerance": 1e-9,
}

# LMG on mtcars, mpg ~ cyl + disp + hp + gear (the model R's rwa package uses in its README); relaimpo
# values as recorded by the same public test suite; checked in R (average over orders) to 13 digits.
MTCARS_GEAR_LMG = {
    "source": "relaimpo calc.relimp(mpg ~ cyl + disp + hp + gear, mtcars); checked in R",
    "drivers": ["cyl", "disp", "hp", "gear"],
    "r2": 0.779189638983,
    "lmg": [0.2470520332352, 0.2434995947956, 0.2109128995443, 0.0777251114079],
    "tolerance": 1e-11,
}

# --- Johnson's (2000) relative weights -----------------------------------------------------------------

# rwa package vignette "Regression Methods: Multiple and Logistic RWA" (Chan, rwa 0.1.x, 2026),
# rwa_multiregress(mtcars, "mpg", c("cyl", "disp", "hp", "wt")): printed to 7 significant digits.
MTCARS_RWA = {
    "source": "rwa vignette regression-methods, rwa_multiregress(mtcars, mpg ~ cyl + disp + hp + wt)",
    "drivers": ["cyl", "disp", "hp", "wt"],
    "raw": [0.2096904, 0.1883043, 0.1799590, 0.2706812],
    "raw_tolerance": 5e-8,
    "rescaled_percent": [24.70914, 22.18908, 21.20570, 31.89607],
    "rescaled_tolerance": 5e-6,
    "r2": 0.8486,
    "r2_tolerance": 5e-5,
}

# Johnson's weights on swiss and on mtcars (cyl, disp, hp, gear) as the Python package relativeImp 0.0.2
# computes them (recorded to 12 digits in the same public test suite; the tests also run relativeImp).
SWISS_RELATIVE_WEIGHTS = {
    "source": "relativeImp 0.0.2 relativeImp(swiss, 'Fertility', ...)",
    "raw": [0.048416895812, 0.154708249806, 0.271964104646, 0.114680029948, 0.116965721381],
    "tolerance": 1e-11,
}
MTCARS_GEAR_RELATIVE_WEIGHTS = {
    "source": "relativeImp 0.0.2 on mtcars, mpg ~ cyl + disp + hp + gear",
    "raw": [0.228479725928, 0.222146870540, 0.232174439299, 0.096388603215],
    "percent": [29.322736660925, 28.509987739305, 29.796910493120, 12.370365106650],
    "tolerance": 1e-11,
    "percent_tolerance": 1e-9,
}

# --- Logistic relative weights (Tonidandel & LeBreton 2010) -----------------------------------------------

# infert, case ~ age + parity + induced + spontaneous. The RWA-Web computation (Tonidandel & LeBreton 2015;
# the same steps as R's rwa::rwa_logit): SVD orthogonalisation, glm(binomial) on Z, Menard-standardised
# coefficients with R = cor(y, fitted probability), epsilon = Lambda^2 %*% beta^2 -- transcribed in base R
# and run on R 4.2.2. glm stops at a relative deviance change below 1e-8, hence the tolerance.
INFERT_LOGISTIC = {
    "source": "RWA-Web logistic relative weights in base R 4.2.2 (glm), datasets::infert",
    "drivers": ["age", "parity", "induced", "spontaneous"],
    "raw": [0.00228978386780706, 0.02587183875760773, 0.02660058813507916, 0.17575705740983427],
    "r2_o": 0.230519268170328,
    "tolerance": 1e-8,
    # glm(case ~ age + parity + induced + spontaneous, family = binomial, data = infert)
    "glm_coef": [
        -2.85239036704882,
        0.0531809874713105,
        -0.708830062064164,
        1.18965620960801,
        1.92533823652627,
    ],
    "glm_deviance": 260.943367487118,
    "null_deviance": 316.171110816404,
    "glm_tolerance": 1e-6,
    # Likelihood-ratio test of each driver given the others (anova of nested glm fits)
    "lr_p": [0.0754128937027707, 2.10325351362993e-05, 1.73248105270847e-05, 1.11768283732798e-13],
    "lr_rel_tolerance": 1e-6,
}
