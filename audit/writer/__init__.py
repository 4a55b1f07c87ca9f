"""One writer process per log (docs/decision-log.md, "How a decision is written").

  client.py     the callers' side: find the writer, start it if none listens, send records
  sender.py     records submitted without waiting: sent together by one thread per log
  server.py     the writer process: batch what every caller sent into one durable commit
  appender.py   its connection to the log: the chain, derived rows, the WAL
  endpoint.py   the socket beside the log, and who may use it
  protocol.py   the frames callers and the writer exchange
"""
