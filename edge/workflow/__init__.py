"""The pack workflow: a pure state machine `(state, input, now) -> (state, effects)`, its value
types and the decision ports it is handed (verifier, limit checker, weigh rule, central state).

May import: `edge.common`, and of the drivers only `drivers.indicator.base` for the one `Signal`
enum (the driver maps each signal to LEDs and beeps). No I/O, no compiled core: every outside
fact arrives through a port.
"""
