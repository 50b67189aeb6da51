"""API errors as the real server reports them: metav1.Status bodies."""


class ApiError(Exception):
    def __init__(self, code, reason, message, details=None, headers=None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}

    def status(self):
        body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": self.message, "reason": self.reason}
        if self.details:
            body["details"] = self.details
        body["code"] = self.code
        return body


def _details(res, name):
    details = {}
    if name:
        details["name"] = name
    if res is not None:
        if res.group:
            details["group"] = res.group
        details["kind"] = res.plural
    return details


def not_found(res, name):
    return ApiError(404, "NotFound", f'{res.qualified} "{name}" not found', _details(res, name))


def namespace_not_found(name):
    return ApiError(404, "NotFound", f'namespaces "{name}" not found',
                    {"name": name, "kind": "namespaces"})


def already_exists(res, name):
    return ApiError(409, "AlreadyExists", f'{res.qualified} "{name}" already exists',
                    _details(res, name))


def conflict(res, name, why="the object has been modified; please apply your changes to the "
                          "latest version and try again"):
    return ApiError(409, "Conflict", f'Operation cannot be fulfilled on {res.qualified} "{name}": {why}',
                    _details(res, name))


def invalid(res, name, causes):
    """causes: [(field, reason, message)]"""
    kind = res.kind + (f".{res.group}" if res.group else "")
    text = ", ".join(f"{field}: {message}" for field, _, message in causes)
    if len(causes) > 1:
        text = "[" + text + "]"
    details = _details(res, name)
    details["kind"] = res.kind
    details["causes"] = [{"reason": reason, "message": message, "field": field}
                         for field, reason, message in causes]
    return ApiError(422, "Invalid", f'{kind} "{name}" is invalid: {text}', details)


def bad_request(message):
    return ApiError(400, "BadRequest", message)


def method_not_allowed(message="the server does not allow this method on the requested resource"):
    return ApiError(405, "MethodNotAllowed", message, {})


def unsupported_media(content_type, accepted):
    return ApiError(415, "UnsupportedMediaType",
                    f"the body of the request was in an unknown format - accepted media types "
                    f"include: {', '.join(accepted)}", {})


def resource_not_found():
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})


def gone(message):
    return ApiError(410, "Expired", message)


def forbidden(message, details=None):
    return ApiError(403, "Forbidden", message, details or {})


def unauthorized():
    return ApiError(401, "Unauthorized", "Unauthorized")


def too_many_requests(retry_after):
    return ApiError(429, "TooManyRequests", "Too many requests, please try again later.",
                    {"retryAfterSeconds": int(retry_after)}, {"Retry-After": str(int(retry_after))})


def internal(message="Internal error occurred: injected fault"):
    return ApiError(500, "InternalError", message, {"causes": [{"message": message}]})


def unavailable(message="the server is currently unable to handle the request", retry_after=None):
    headers = {"Retry-After": str(int(retry_after))} if retry_after else None
    details = {"retryAfterSeconds": int(retry_after)} if retry_after else {}
    return ApiError(503, "ServiceUnavailable", message, details, headers)


_REASONS = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
            405: "MethodNotAllowed", 409: "Conflict", 410: "Expired", 413: "RequestEntityTooLarge",
            415: "UnsupportedMediaType", 422: "Invalid", 429: "TooManyRequests",
            500: "InternalError", 503: "ServiceUnavailable", 504: "Timeout"}


def injected(code, record):
    """An injected error with the reason the API uses for that code."""
    reason = _REASONS.get(code, "InternalError" if code >= 500 else "BadRequest")
    what = record.resource or record.path
    if code == 403:
        message = (f'{what} is forbidden: User "{record.user}" cannot {record.verb} resource '
                   f'"{record.resource}" (injected fault)')
    elif code == 504:
        message = "Timeout: request did not complete within the allowed duration (injected fault)"
    else:
        message = f"injected fault {code} for {record.verb} {what}"
    details = {"kind": record.resource} if record.resource else {}
    if record.name:
        details["name"] = record.name
    return ApiError(code, reason, message, details)
