"""LoginThrottle's rules on a fake clock: reservations count until decided, windows slide, a success
clears the e-mail but never the address, and keys tried long ago are forgotten."""

from __future__ import annotations

import pytest

from cxloop.web.security import LoginRefused, LoginThrottle


def _fail(throttle: LoginThrottle, email: str, address: str = "10.0.0.1") -> None:
    with throttle.attempt(email, address):
        pass  # undecided: a wrong password


def _succeed(throttle: LoginThrottle, email: str, address: str = "10.0.0.1") -> None:
    with throttle.attempt(email, address) as attempt:
        attempt.succeeded()


def test_the_email_window_slides_and_a_success_clears_it():
    now = [0.0]
    throttle = LoginThrottle(max_failures=2, window_seconds=60, clock=lambda: now[0])
    _fail(throttle, "a@x")
    now[0] = 30
    _fail(throttle, "A@x ")  # the same e-mail
    with pytest.raises(LoginRefused) as refused:
        _succeed(throttle, "a@x")
    assert refused.value.limit == "email" and refused.value.retry_after == pytest.approx(30)
    now[0] = 60  # the first failure leaves the window
    _fail(throttle, "a@x")
    with pytest.raises(LoginRefused):
        _fail(throttle, "a@x")
    now[0] = 90
    _succeed(throttle, "a@x")
    _fail(throttle, "a@x")
    _fail(throttle, "a@x")  # two more: the success forgot the earlier ones


def test_reservations_count_before_they_are_decided():
    throttle = LoginThrottle(max_failures=3, address_max_failures=100)
    held = [throttle.attempt("a@x", f"10.0.0.{i}") for i in range(3)]
    for reservation in held:
        reservation.__enter__()
    with pytest.raises(LoginRefused) as refused:
        _fail(throttle, "a@x", "10.0.0.9")
    assert refused.value.retry_after >= 1  # nothing decided yet: try again shortly
    for reservation in held:
        reservation.__exit__(None, None, None)
    with pytest.raises(LoginRefused):  # three decided failures now
        _fail(throttle, "a@x", "10.0.0.9")


def test_an_error_during_the_check_counts_as_a_failure():
    throttle = LoginThrottle(max_failures=1)
    with pytest.raises(RuntimeError), throttle.attempt("a@x", "10.0.0.1"):
        raise RuntimeError("database gone")
    with pytest.raises(LoginRefused):
        _succeed(throttle, "a@x")


def test_the_address_limit_spans_emails_and_successes_do_not_reset_it():
    now = [0.0]
    throttle = LoginThrottle(address_max_failures=3, address_window_seconds=60, clock=lambda: now[0])
    for email in ("a@x", "b@x"):
        _fail(throttle, email)
    _succeed(throttle, "c@x")
    _fail(throttle, "d@x")
    with pytest.raises(LoginRefused) as refused:
        _succeed(throttle, "e@x")
    assert refused.value.limit == "address" and refused.value.retry_after == pytest.approx(60)
    _succeed(throttle, "e@x", address="10.0.0.2")  # another address is not affected
    now[0] = 60
    _succeed(throttle, "e@x")


def test_keys_tried_long_ago_are_forgotten():
    # Ten rounds of 1,000 new e-mails from 1,000 new addresses, each round after the last one's failures
    # left the window: without forgetting, 10,000 keys each; the tables stay near two rounds' worth.
    now = [0.0]
    throttle = LoginThrottle(window_seconds=60, address_window_seconds=60, clock=lambda: now[0])
    largest = 0
    for round_ in range(10):
        now[0] = round_ * 120.0
        for i in range(1000):
            _fail(throttle, f"user{round_}-{i}@x", f"10.{round_}.{i // 250}.{i % 250}")
        emails, addresses = throttle._emails.windows, throttle._addresses.windows  # noqa: SLF001
        largest = max(largest, len(emails), len(addresses))
    assert largest <= 2048
