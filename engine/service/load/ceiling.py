"""The stack's own ceiling: Starlette on uvicorn answering a constant JSON to a POST whose body it
reads, as the service does, but deciding and logging nothing (engine/service/load/run.py)."""
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

_ANSWER = b'{"outcome":"allow","findings":[],"obligations":[]}'


async def _answer(request: Request) -> Response:
    await request.body()
    return Response(_ANSWER, media_type="application/json")


app = Starlette(routes=[Route("/v1/evaluate", _answer, methods=["POST"])])
