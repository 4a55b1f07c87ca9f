"""Drivers of the engine over many flows: the benchmark (bench), synthetic traffic (traffic),
seeding a log with the engine's decisions about it (seed), replaying a logged decision (replay)
and running the scenario tests of a rule tree (scenarios). The evaluation core (engine/) does
not import them."""
