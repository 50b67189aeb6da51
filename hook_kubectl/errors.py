"""Errors a user can act on; anything else is a crash in the hook itself."""


class HookError(Exception):
    """A failure with a one-line message meant for the stack user."""


class InputError(HookError):
    """The deployment handed to the hook is malformed or invalid."""


class BackendError(HookError):
    """The backend could not carry out the deployment."""
