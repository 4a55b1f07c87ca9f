"""`licit serve`: the engine behind HTTP, for enrollment services in any language (docs/service.md).

supervisor.py binds the socket and forks the workers; worker.py runs one worker (uvicorn on the
shared socket); app.py holds the routes and their error shapes; decider.py the worker's engine,
log and reloads; tokens.py access; metrics.py Prometheus; openapi.py /openapi.json.
"""
