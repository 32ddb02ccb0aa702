"""``POST /api/v1/auth/token``: an OAuth2 password login that returns a bearer JWT.

Logins are throttled (:class:`~cxloop.web.security.LoginThrottle`): 5 failures per e-mail and 20 per client
address within 15 minutes; the attempt after that gets 429 with ``Retry-After``, even with the right
password. Each attempt is reserved before its password is checked, so concurrent guesses cannot exceed
the limits. Each token names a server-side session that a password change, disabling the user or
``cxloop users logout`` ends.
"""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm

from cxloop.services.access import identity
from cxloop.web.deps import SessionDep, SettingsDep, client_address
from cxloop.web.errors import ApiError
from cxloop.web.schemas import ErrorPublic, TokenPublic
from cxloop.web.security import ACCESS_TOKEN_MINUTES, LoginRefused, LoginThrottle, create_access_token

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


@router.post(
    "/token",
    response_model=TokenPublic,
    summary="Log in with email and password; get a bearer token",
    responses={401: {"model": ErrorPublic}, 422: {"model": ErrorPublic}, 429: {"model": ErrorPublic}},
)
def token(
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    settings: SettingsDep,
    session: SessionDep,
) -> TokenPublic:
    """The ``username`` field holds the email."""
    throttle: LoginThrottle = request.app.state.login_throttle
    try:
        with throttle.attempt(form.username, client_address(request)) as attempt:
            user = identity.authenticate(session, form.username, form.password)
            if user is not None:
                attempt.succeeded()
    except LoginRefused as refused:
        seconds = math.ceil(refused.retry_after)
        raise ApiError(
            429,
            "too_many_attempts",
            f"too many failed logins for this {refused.limit}; try again in {seconds} s",
            headers={"Retry-After": str(seconds)},
        ) from None
    if user is None:
        raise ApiError(
            401,
            "invalid_credentials",
            "wrong email or password, or the account is disabled",
            headers={"WWW-Authenticate": "Bearer"},
        )
    session_id = identity.start_session(session, user.id, "api", ACCESS_TOKEN_MINUTES)
    return TokenPublic(
        access_token=create_access_token(settings, user.id, session_id), expires_in=ACCESS_TOKEN_MINUTES * 60
    )
