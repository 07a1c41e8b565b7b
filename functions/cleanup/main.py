"""The cleanup function for functions-framework:

functions-framework --target main --source functions/cleanup/main.py
"""

from flask import Request, Response

from memplane.platform.functions_framework import respond


def main(request: Request) -> Response:
    return respond("cleanup", request)
