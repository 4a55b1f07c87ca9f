"""Drivers of the engine over many flows: the benchmark (bench), synthetic traffic (traffic),
seeding a log with the engine's decisions about it (seed), replaying logged decisions (replay),
the impact of a draft rule tree on the logged flows (impact), a logged decision as a scenario case
(logged_scenario), running the scenario tests of a rule tree (scenarios); span_runner divides work
over a log between worker processes, logged_rules gives engines on the rule sets a log stores, and
reports renders what replay and impact found. The evaluation core (engine/) does not import them."""
