"""The writeback function for functions-framework:

functions-framework --target main --source functions/writeback/main.py
"""

from flask import Request, Response

from memplane.platform.functions_framework import respond


def main(request: Request) -> Response:
    return respond("writeback", request)
