"""``POST /api/v1/auth/token``: an OAuth2 password login that returns a bearer JWT.

Failed logins are throttled per email (:class:`~cxloop.web.security.LoginThrottle`, 5 per 15 minutes by
default): the sixth attempt within the window gets 429 with ``Retry-After``, even with the right password.
"""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm

from cxloop.services.access import identity
from cxloop.web.deps import SessionDep, SettingsDep
from cxloop.web.errors import ApiError
from cxloop.web.schemas import ErrorPublic, TokenPublic
from cxloop.web.security import ACCESS_TOKEN_MINUTES, LoginThrottle, create_access_token

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
    wait = throttle.retry_after(form.username)
    if wait > 0:
        seconds = math.ceil(wait)
        raise ApiError(
            429,
            "too_many_attempts",
            f"too many failed logins for this email; try again in {seconds} s",
            headers={"Retry-After": str(seconds)},
        )
    user = identity.authenticate(session, form.username, form.password)
    if user is None:
        throttle.failed(form.username)
        raise ApiError(
            401,
            "invalid_credentials",
            "wrong email or password, or the account is disabled",
            headers={"WWW-Authenticate": "Bearer"},
        )
    throttle.succeeded(form.username)
    return TokenPublic(
        access_token=create_access_token(settings, user.id), expires_in=ACCESS_TOKEN_MINUTES * 60
    )
