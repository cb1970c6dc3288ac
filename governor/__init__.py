"""The governor (SPEC §11): the service that makes budgets, caps, schedules and automation
rules act, sends postbacks to traffic sources and webhooks, and keeps money in the right
currency. Any number may run; one leads (governor/leader.py) and runs the tasks, each a
`governor.tick.Task` called every few seconds with a `Tick`."""
